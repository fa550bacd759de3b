"""`manage.py apikeys create --name X | list | revoke <key id>`: API keys for /v1, shown once at creation."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from chatauth.cloud.apikeys import PREFIX, create_api_key, revoke_api_key
from chatauth.models import ApiKey


class Command(BaseCommand):
    help = "Create, list and revoke API keys for the /v1 API."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Create a key and print it once.")
        create.add_argument("--name", required=True)
        sub.add_parser("list", help="List keys (prefixes only).")
        revoke = sub.add_parser("revoke", help="Revoke a key by its id or prefix (aui_sk_<id>).")
        revoke.add_argument("key")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "create":
            name = options["name"].strip()
            if not name:
                raise CommandError("--name must not be empty.")
            key, raw = create_api_key(name)
            self.stdout.write(raw)
            self.stderr.write(f"Created {key.display_prefix} ({name}). Store it now: it is not shown again.")
        elif action == "list":
            for key in ApiKey.objects.order_by("created_at"):
                state = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
                used = f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never"
                self.stdout.write(f"{key.display_prefix}\t{key.name}\t{state}\tlast used {used}")
        else:
            key_id = options["key"].removeprefix(PREFIX).split("_", 1)[0]
            key = ApiKey.objects.filter(key_id=key_id).first()
            if key is None:
                raise CommandError(f"No API key {PREFIX}{key_id}.")
            revoke_api_key(key)
            self.stdout.write(f"Revoked {key.display_prefix} ({key.name}).")
