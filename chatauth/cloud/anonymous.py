"""Anonymous identities and their refresh tokens (anonymous mode of the assistant-cloud client).

A refresh token is 256 random bits, stored as a SHA-256, valid for 30 days and single-use: refreshing
rotates it. Presenting a token that was already used or revoked (for instance after its identity was
claimed) fails and, because it signals theft or replay, revokes the identity's remaining tokens.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from chatauth.caller import ANONYMOUS_PREFIX, Workspace
from chatauth.cloud.conf import cloud_settings
from chatauth.models import AnonymousIdentity, RefreshToken


class RefreshTokenInvalid(Exception):
    """Unknown, expired, reused, revoked, or its identity was claimed."""

    def __init__(self, reason: str, reused_identity_id: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.reused_identity_id = reused_identity_id


@dataclass(frozen=True)
class IssuedRefreshToken:
    token: str
    expires_at: datetime


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def identity_is_unclaimed(identity_id: str) -> bool:
    return AnonymousIdentity.objects.filter(id=identity_id, claimed_at__isnull=True).exists()


def workspace_of(identity: AnonymousIdentity) -> Workspace:
    return Workspace(user_id=identity.id)


def _issue(identity: AnonymousIdentity) -> IssuedRefreshToken:
    raw = "aui_rt_" + secrets.token_urlsafe(32)
    expires = timezone.now() + timedelta(seconds=int(cloud_settings.REFRESH_TOKEN_TTL_SECONDS))
    RefreshToken.objects.create(identity=identity, token_hash=_hash(raw), expires_at=expires)
    return IssuedRefreshToken(raw, expires)


def create_identity() -> tuple[AnonymousIdentity, IssuedRefreshToken]:
    with transaction.atomic():
        identity = AnonymousIdentity.objects.create(id=ANONYMOUS_PREFIX + secrets.token_urlsafe(16))
        return identity, _issue(identity)


def _revoke_all(identity_id: str, now: datetime) -> None:
    RefreshToken.objects.filter(identity_id=identity_id, revoked_at__isnull=True).update(revoked_at=now)


def revoke_after_reuse(exc: RefreshTokenInvalid) -> None:
    """Call after the failed transaction is over, so the revocation is not rolled back with it."""
    if exc.reused_identity_id:
        _revoke_all(exc.reused_identity_id, timezone.now())


def _consume(raw: str, now: datetime) -> RefreshToken:
    """Lock and check one refresh token; a reused one revokes its family. Call inside a transaction."""
    if not isinstance(raw, str) or not raw.startswith("aui_rt_") or len(raw) > 200:
        raise RefreshTokenInvalid("malformed")
    row = RefreshToken.objects.select_for_update().select_related("identity").filter(token_hash=_hash(raw)).first()
    if row is None:
        raise RefreshTokenInvalid("unknown")
    if row.used_at is not None or row.revoked_at is not None:
        raise RefreshTokenInvalid("reused", reused_identity_id=row.identity_id)
    if row.expires_at <= now or row.identity.claimed_at is not None:
        raise RefreshTokenInvalid("expired")
    row.used_at = now
    row.save(update_fields=["used_at"])
    return row


def refresh(raw: str) -> tuple[AnonymousIdentity, IssuedRefreshToken]:
    """Rotate: the presented token is spent, a new one is issued for the same identity."""
    now = timezone.now()
    try:
        with transaction.atomic():
            row = _consume(raw, now)
            return row.identity, _issue(row.identity)
    except RefreshTokenInvalid as exc:
        revoke_after_reuse(exc)
        raise


def begin_claim(raw: str, *, claimed_by: str) -> AnonymousIdentity:
    """Spend the token and mark its identity claimed; call inside the transaction that moves the threads."""
    now = timezone.now()
    row = _consume(raw, now)
    identity = row.identity
    identity.claimed_at = now
    identity.claimed_by = claimed_by
    identity.save(update_fields=["claimed_at", "claimed_by"])
    _revoke_all(identity.id, now)
    return identity
