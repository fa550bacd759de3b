"""The `CLERK` settings namespace, read lazily so `override_settings` works in tests."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.conf import settings

from config.appsettings import AppSettings, Setting, env

T = TypeVar("T")

KEY_VARIABLES = ("CLERK_JWT_KEY", "CLERK_JWKS_URL", "CLERK_PUBLISHABLE_KEY", "CLERK_SECRET_KEY")


def dev_issuer_mode() -> str:
    """`CLERK_DEV_ISSUER`: auto (on with DEBUG and no Clerk key), off, or force."""
    return env.str("CLERK_DEV_ISSUER", default="auto").lower()


def _dev_issuer_default() -> bool:
    mode = dev_issuer_mode()
    configured = any(env.str(name, default="") for name in KEY_VARIABLES)
    return mode == "force" or (mode == "auto" and bool(settings.DEBUG) and not configured)


DEFAULTS: dict[str, Any] = {
    # PEM keys arrive on one line from many secret stores: "\n" stands for a newline.
    "JWT_KEY": Setting("", parse=lambda value: value.replace("\\n", "\n")),
    "JWKS_URL": "",
    "PUBLISHABLE_KEY": "",
    "SECRET_KEY": "",
    "API_URL": "https://api.clerk.com",
    "ISSUER": "",
    "AUTHORIZED_PARTIES": [],
    "AUDIENCES": [],
    "EXEMPT_PATH_PREFIXES": ["/v1/"],
    "CLOCK_SKEW_SECONDS": 5,
    "JWKS_CACHE_TTL_SECONDS": 3600,
    "JWKS_REFRESH_INTERVAL_SECONDS": 60,
    "JWKS_TIMEOUT_SECONDS": 3.0,
    "MAX_TOKEN_BYTES": 8192,
    "ACCEPT_PENDING_SESSIONS": False,
    "DEV_ISSUER": Setting(_dev_issuer_default, env=""),
    "DEV_KEY_FILE": Setting(lambda: str(settings.BASE_DIR / "var" / "dev_issuer_key.pem")),
}

DEV_ISSUER = "https://clerk.dev-issuer.localhost"


@dataclass(frozen=True)
class PublishableKey:
    instance_type: str
    frontend_api: str


def parse_publishable_key(key: str) -> PublishableKey | None:
    """Decode `pk_test_`/`pk_live_` + base64(`<frontend-api-host>$`) the way `@clerk/shared` does."""
    parts = key.split("_")
    if len(parts) != 3 or parts[0] != "pk" or parts[1] not in {"test", "live"} or not parts[2]:
        return None
    encoded = parts[2] + "=" * (-len(parts[2]) % 4)
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if not decoded.endswith("$"):
        return None
    host = decoded[:-1]
    if "$" in host or "." not in host:
        return None
    return PublishableKey("production" if parts[1] == "live" else "development", host)


class ClerkSettings(AppSettings):
    """The `CLERK` namespace, plus the values derived from it."""

    def derived(self, name: str, build: Callable[[], T]) -> T:
        """`build()`, computed once from these settings and kept until they change (the session-token claim policy
        and key source: built once, not on every verification). Kept in the namespace's own value cache under `name`,
        which starts with `_` as no setting's does (as `cloud_settings.signing_keys` is kept), so the `setting_changed`
        hook that reloads the namespace drops it too and `override_settings(CLERK=...)` gets a fresh one."""
        if name[:1] != "_":
            raise ValueError(f"A derived value's name starts with '_' (got {name!r}).")
        try:
            return self._cache[name]
        except KeyError:
            value = self._cache[name] = build()
            return value

    @property
    def publishable(self) -> PublishableKey | None:
        return parse_publishable_key(self.PUBLISHABLE_KEY) if self.PUBLISHABLE_KEY else None

    @property
    def jwks_url(self) -> str:
        """Where session-token keys come from when no PEM key is configured ('' if nowhere)."""
        if self.JWKS_URL:
            return self.JWKS_URL
        if self.publishable:
            return f"https://{self.publishable.frontend_api}/.well-known/jwks.json"
        if self.SECRET_KEY:
            return self.API_URL.rstrip("/") + "/v1/jwks"
        return ""

    @property
    def issuer(self) -> str:
        """The expected `iss`: explicit, else the Frontend API of the publishable key, else the dev issuer."""
        if self.ISSUER:
            return self.ISSUER
        if self.publishable:
            return f"https://{self.publishable.frontend_api}"
        if self.uses_dev_issuer:
            return DEV_ISSUER
        return ""

    @property
    def uses_dev_issuer(self) -> bool:
        return bool(self.DEV_ISSUER) and not (self.JWT_KEY or self.JWKS_URL or self.PUBLISHABLE_KEY or self.SECRET_KEY)


clerk_settings = ClerkSettings("CLERK", DEFAULTS)

# Operations: the Svix signing secret of the Clerk webhook endpoint (whsec_...); unset: /webhooks/clerk answers 503.
ops_settings = AppSettings("OPS", {"CLERK_WEBHOOK_SIGNING_SECRET": Setting("", env="CLERK_WEBHOOK_SIGNING_SECRET")})
