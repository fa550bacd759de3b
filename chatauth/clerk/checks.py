"""Start-up checks: a misconfigured Clerk setup is loud before the first request, not after."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from chatauth.clerk.conf import clerk_settings, parse_publishable_key


@register(Tags.security, deploy=False)
def check_clerk_settings(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    problems: list[Any] = []
    if clerk_settings.PUBLISHABLE_KEY and parse_publishable_key(clerk_settings.PUBLISHABLE_KEY) is None:
        problems.append(Error("CLERK_PUBLISHABLE_KEY is not a valid pk_test_/pk_live_ key.", id="chatauth.E001"))
    if clerk_settings.JWT_KEY:
        from chatauth.jwt import TokenVerificationError
        from chatauth.keys import load_pem_key

        try:
            load_pem_key(clerk_settings.JWT_KEY)
        except TokenVerificationError as exc:
            problems.append(Error(exc.message, id="chatauth.E002"))
    configured = clerk_settings.JWT_KEY or clerk_settings.jwks_url
    if not configured and not clerk_settings.uses_dev_issuer:
        problems.append(
            Error(
                "No Clerk key is configured and the development issuer is off: every token would be refused.",
                hint="Set CLERK_PUBLISHABLE_KEY (or CLERK_JWT_KEY / CLERK_JWKS_URL / CLERK_SECRET_KEY).",
                id="chatauth.E003",
            )
        )
    if clerk_settings.uses_dev_issuer and not settings.DEBUG:
        problems.append(
            Warning(
                "The development issuer is forced on with DEBUG off: anyone with the key file can sign in as anyone.",
                id="chatauth.W001",
            )
        )
    for party in clerk_settings.AUTHORIZED_PARTIES:
        if "://" not in party:
            problems.append(Error(f"CLERK_AUTHORIZED_PARTIES entry {party!r} is not an origin.", id="chatauth.E004"))
    return problems
