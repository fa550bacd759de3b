from __future__ import annotations

import re
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from chatauth.clerk.conf import clerk_settings


def _permission(value: str) -> tuple[str, str]:
    match = re.fullmatch(r"(?:org:)?([\w-]+):([\w-]+)", value)
    if not match:
        raise CommandError(f"--permission {value!r}: expected FEATURE:PERMISSION, e.g. billing:read")
    return match.group(1), match.group(2)


class Command(BaseCommand):
    help = (
        "Print a session token from the development issuer, in Clerk's claim format. "
        "Only works when the development issuer is on (DEBUG with no Clerk key, or CLERK_DEV_ISSUER=force)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", required=True, help="Clerk user id (sub), e.g. user_alice")
        parser.add_argument("--org", help="Active organization id, e.g. org_acme")
        parser.add_argument("--role", default="member", help="Organization role (default: member)")
        parser.add_argument("--slug", help="Organization slug (default: the org id)")
        parser.add_argument(
            "--permission", action="append", default=[], help="FEATURE:PERMISSION, repeatable (needs --org)"
        )
        parser.add_argument("--ttl", type=int, default=3600, help="Lifetime in seconds (default: 3600)")
        parser.add_argument("--azp", default="http://localhost:8000", help="Authorized party (origin)")
        parser.add_argument("--claims-version", type=int, choices=[1, 2], default=2)

    def handle(self, *args: Any, **options: Any) -> str:
        if not clerk_settings.uses_dev_issuer:
            raise CommandError(
                "The development issuer is off: it runs only with DEBUG=true and no Clerk key, "
                "or with CLERK_DEV_ISSUER=force."
            )
        if options["ttl"] <= 0:
            raise CommandError("--ttl must be a positive number of seconds")
        if options["permission"] and not options["org"]:
            raise CommandError("--permission needs --org")
        if not options["user"].strip():
            raise CommandError("--user must not be empty")
        permissions: dict[str, list[str]] = {}
        for feature, permission in map(_permission, options["permission"]):
            permissions.setdefault(feature, []).append(permission)
        from chatauth.clerk.devissuer import dev_issuer

        return dev_issuer().mint(
            options["user"],
            org_id=options["org"],
            org_role=options["role"],
            org_slug=options["slug"],
            org_permissions=permissions,
            azp=options["azp"],
            ttl=options["ttl"],
            claims_version=options["claims_version"],
        )
