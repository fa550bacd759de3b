"""The `CLOUD` settings namespace (workspace tokens, API keys, /v1), read lazily so `override_settings` works."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

import environ
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from config.appsettings import AppSettings, Setting

DEFAULTS: dict[str, Any] = {
    # Workspace tokens: lifetime, issuer, leeway, signing keys (first signs, all verify).
    "TOKEN_TTL_SECONDS": 300,
    "TOKEN_ISSUER": "chat-backend",
    "CLOCK_SKEW_SECONDS": 5,
    "SIGNING_KEYS": Setting([], cast="json"),
    "MAX_TOKEN_BYTES": 8192,
    # How a workspace id is written: `{user_id}` alone, or this format when there is a group (org/project).
    "WORKSPACE_ID_FORMAT": "{org_id}:{user_id}",
    # Reported as `project_id` on threads and tokens: one service = one project.
    "PROJECT_ID": "default",
    # Anonymous identities (POST /v1/auth/tokens/anonymous); off unless turned on.
    "ANONYMOUS_ENABLED": False,
    # New anonymous identities per client address, in a sliding window: creating identities is not free.
    "ANONYMOUS_RATE_LIMIT_REQUESTS": 20,
    "ANONYMOUS_RATE_LIMIT_WINDOW_SECONDS": 3600,
    # What one anonymous identity may store (a 403 quota_exceeded past it; signing in and claiming lifts it).
    "ANONYMOUS_MAX_THREADS": 50,
    "ANONYMOUS_MAX_MESSAGES": 2000,
    # Workspace tokens minted per credential (API key, Clerk user, provider subject, refresh address) per minute.
    "TOKEN_RATE_LIMIT_REQUESTS": 120,
    "REFRESH_TOKEN_TTL_SECONDS": 30 * 24 * 3600,
    # Provider JWT JWKS caching (same mechanics as Clerk session keys).
    "JWKS_CACHE_TTL_SECONDS": 3600,
    "JWKS_REFRESH_INTERVAL_SECONDS": 60,
    "JWKS_TIMEOUT_SECONDS": 3.0,
    # CORS for front ends on other origins calling /api and /v1 (chatauth.cloud.cors). CORS_ALLOWED_ORIGINS is the
    # variable; CLOUD_CORS_ALLOWED_ORIGINS, its old name, is still read when the new one is unset (deprecated).
    "CORS_ALLOWED_ORIGINS": Setting(
        lambda: environ.Env().list("CLOUD_CORS_ALLOWED_ORIGINS", default=[]), env="CORS_ALLOWED_ORIGINS", cast=list
    ),
    # /dev/ is the development sign-in (`POST /dev/session`, which exists only while the development issuer is on).
    "CORS_PATH_PREFIXES": ["/api/", "/v1/", "/dev/"],
    "CORS_MAX_AGE_SECONDS": 600,
}



@dataclass(frozen=True)
class SigningKey:
    """One workspace-token key: HS256 with a shared secret, or RS256 with a PEM private key."""

    kid: str
    algorithm: str
    signing_key: Any
    verifying_key: Any


def _derived_secret(purpose: str) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), purpose.encode(), hashlib.sha256).hexdigest()


def _load_key(entry: Any, index: int) -> SigningKey:
    if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str) or not entry["kid"]:
        raise ImproperlyConfigured(f"CLOUD SIGNING_KEYS[{index}] needs a non-empty 'kid'.")
    kid = entry["kid"]
    if entry.get("secret"):
        secret = str(entry["secret"])
        if len(secret) < 32:
            raise ImproperlyConfigured(f"CLOUD SIGNING_KEYS[{index}] secret must be at least 32 characters.")
        return SigningKey(kid, "HS256", secret.encode(), secret.encode())
    if entry.get("private_key"):
        from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        try:
            private = load_pem_private_key(str(entry["private_key"]).encode(), password=None)
        except ValueError as exc:
            raise ImproperlyConfigured(f"CLOUD SIGNING_KEYS[{index}] private_key is not a PEM key.") from exc
        if not isinstance(private, RSAPrivateKey):
            raise ImproperlyConfigured(f"CLOUD SIGNING_KEYS[{index}] private_key must be RSA.")
        return SigningKey(kid, "RS256", private, private.public_key())
    if entry.get("public_key"):
        # A verify-only key: lets a retired or foreign signer's tokens keep working without its private half.
        from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
        from cryptography.hazmat.primitives.serialization import load_pem_public_key

        public = load_pem_public_key(str(entry["public_key"]).encode())
        if not isinstance(public, RSAPublicKey):
            raise ImproperlyConfigured(f"CLOUD SIGNING_KEYS[{index}] public_key must be RSA.")
        return SigningKey(kid, "RS256", None, public)
    raise ImproperlyConfigured(f"CLOUD SIGNING_KEYS[{index}] needs 'secret', 'private_key' or 'public_key'.")


class CloudSettings(AppSettings):
    """The `CLOUD` namespace, plus the signing keys built from it (rebuilt when CLOUD or SECRET_KEY change)."""

    @property
    def signing_keys(self) -> list[SigningKey]:
        """Configured keys; without any, one HS256 key derived from SECRET_KEY (documented development default)."""
        if "_keys" not in self._cache:
            configured = self.SIGNING_KEYS
            if configured:
                keys = [_load_key(entry, i) for i, entry in enumerate(configured)]
            else:
                secret = _derived_secret("chatauth.cloud.workspace-token.v1")
                keys = [SigningKey("default-" + secret[:8], "HS256", secret.encode(), secret.encode())]
            if len({k.kid for k in keys}) != len(keys):
                raise ImproperlyConfigured("CLOUD SIGNING_KEYS kids must be unique.")
            if keys[0].signing_key is None:
                raise ImproperlyConfigured("The first CLOUD SIGNING_KEYS entry signs: it needs a secret/private_key.")
            self._cache["_keys"] = keys
        return self._cache["_keys"]

    @property
    def uses_derived_key(self) -> bool:
        return not self.SIGNING_KEYS


cloud_settings = CloudSettings("CLOUD", DEFAULTS, reload_on=["SECRET_KEY"])
