"""API keys for server-side /v1 use: `aui_sk_<key_id>_<secret>`, stored as a SHA-256, checked on every use.

The `key_id` part identifies a key in lists and logs without revealing it; lookups go by `key_id` and
the hash is compared in constant time. Nothing is cached, so a revocation takes effect on the next request.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import timedelta

from django.utils import timezone

from chatauth.models import ApiKey

PREFIX = "aui_sk_"
_KEY_RE = re.compile(r"^aui_sk_([a-z0-9]{12})_([A-Za-z0-9_\-]{43})$")
LAST_USED_RESOLUTION = timedelta(seconds=60)


class InvalidApiKey(Exception):
    """Unknown, malformed or revoked: one error, so a caller learns nothing about which."""


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def looks_like_api_key(raw: str) -> bool:
    return raw.startswith(PREFIX)


def create_api_key(name: str) -> tuple[ApiKey, str]:
    """A new key; the raw key is returned once and never stored."""
    key_id = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(12))
    raw = f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    key = ApiKey.objects.create(name=name, key_id=key_id, key_hash=hash_key(raw))
    return key, raw


def authenticate_api_key(raw: str) -> ApiKey:
    match = _KEY_RE.match(raw)
    if match is None:
        raise InvalidApiKey("malformed")
    key = ApiKey.objects.filter(key_id=match[1]).first()
    # Compare even when the key is missing, so timing does not tell known key ids from unknown ones.
    expected = key.key_hash if key is not None else "0" * 64
    if not hmac.compare_digest(expected, hash_key(raw)) or key is None or key.revoked_at is not None:
        raise InvalidApiKey("refused")
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key


def api_key_is_active(key_id: str) -> bool:
    """For tokens minted with a key: still valid only while the key is."""
    return ApiKey.objects.filter(key_id=key_id, revoked_at__isnull=True).exists()


def revoke_api_key(key: ApiKey) -> None:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
