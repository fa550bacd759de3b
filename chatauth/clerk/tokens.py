"""Clerk session-token verification, step for step as `@clerk/backend`'s `verifyToken` does it.

Each failing step raises `TokenVerificationError` with Clerk's reason code, so a caller can tell a
client exactly why it was refused and our verdicts can be compared with Clerk's own SDK.
"""

from __future__ import annotations

from typing import Any

from chatauth.caller import Caller, InvalidWorkspaceId, TokenSource, check_id
from chatauth.clerk.conf import clerk_settings
from chatauth.jwt import (
    INVALID,
    VERIFICATION_FAILED,
    ClaimPolicy,
    TokenVerificationError,
    is_number,
    unverified_kid,
    verify_jwt,
)
from chatauth.keys import session_key_source

SESSION_PENDING = "session-pending"


def _split_org_features(fea: Any) -> list[str]:
    if fea in (None, ""):
        return []
    if not isinstance(fea, str):
        raise TokenVerificationError(INVALID, "Invalid fea claim: expected a string.")
    features: list[str] = []
    for raw in fea.split(","):
        part = raw.strip()
        scope, colon, value = part.partition(":")
        if not colon:
            raise TokenVerificationError(INVALID, f"Invalid claim element (missing colon): {part}")
        if scope in {"o", "ou", "uo"}:
            features.append(value)
    return features


def _bits(decimal: str, minimum: int) -> list[int] | None:
    if not decimal.isascii() or not decimal.isdigit():
        return None
    number = int(decimal)
    bits = [(number >> i) & 1 for i in range(max(number.bit_length(), 1))]
    return bits + [0] * (minimum - len(bits))


def _v2_org_permissions(fea: Any, org: dict[str, Any]) -> tuple[str, ...]:
    features = _split_org_features(fea)
    per, fpm = org.get("per"), org.get("fpm")
    if not per or not fpm:
        return ()
    if not isinstance(per, str) or not isinstance(fpm, str):
        raise TokenVerificationError(INVALID, "Invalid organization permission claims (per/fpm).")
    permissions = [p.strip() for p in per.split(",")]
    masks = [_bits(m.strip(), len(permissions)) or [] for m in fpm.split(",")]
    result: list[str] = []
    for index, feature in enumerate(features):
        if index >= len(masks):
            continue
        for bit_index, bit in enumerate(masks[index][: len(permissions)]):
            if bit == 1:
                result.append(f"org:{feature}:{permissions[bit_index]}")
    return tuple(result)


def _optional_str(value: Any, claim: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TokenVerificationError(INVALID, f"Invalid {claim} claim: expected a string.")
    return value


def caller_from_claims(claims: dict[str, Any], *, source: TokenSource = "header") -> Caller:
    """Claims (v1 or v2) to a session `Caller`, as `@clerk/shared`'s jwtPayloadParser reads them."""
    org_id = org_role = org_slug = None
    permissions: tuple[str, ...] = ()
    if claims.get("v") == 2:
        org = claims.get("o")
        if org is not None and not isinstance(org, dict):
            raise TokenVerificationError(INVALID, "Invalid organization claim (o): expected an object.")
        if org:
            org_id = _optional_str(org.get("id"), "o.id")
            org_slug = _optional_str(org.get("slg"), "o.slg")
            role = _optional_str(org.get("rol"), "o.rol")
            org_role = f"org:{role}" if role else None
            permissions = _v2_org_permissions(claims.get("fea"), org)
    else:
        org_id = _optional_str(claims.get("org_id"), "org_id")
        org_role = _optional_str(claims.get("org_role"), "org_role")
        org_slug = _optional_str(claims.get("org_slug"), "org_slug")
        raw = claims.get("org_permissions") or []
        if not isinstance(raw, list) or not all(isinstance(p, str) for p in raw):
            raise TokenVerificationError(INVALID, "Invalid org_permissions claim: expected a list of strings.")
        permissions = tuple(raw)
    actor = claims.get("act")
    if actor is not None and not isinstance(actor, dict):
        raise TokenVerificationError(INVALID, "Invalid actor claim (act): expected an object.")
    fva = claims.get("fva")
    return Caller(
        via="session",
        user_id=claims["sub"],
        session_id=_optional_str(claims.get("sid"), "sid"),
        session_status=_optional_str(claims.get("sts"), "sts"),
        org_id=org_id or None,
        org_role=org_role,
        org_slug=org_slug,
        org_permissions=permissions,
        actor=actor,
        factor_verification_age=tuple(fva) if isinstance(fva, list) and all(is_number(x) for x in fva) else None,
        token_source=source,
    )


def session_verify_options() -> ClaimPolicy:
    """The claim policy of session tokens, built once per settings change (not on every verification)."""
    return clerk_settings.derived("_session_verify_options", _session_verify_options)


def _session_verify_options() -> ClaimPolicy:
    return ClaimPolicy(
        issuer=clerk_settings.issuer,
        authorized_parties=tuple(clerk_settings.AUTHORIZED_PARTIES),
        audience=tuple(clerk_settings.AUDIENCES),
        clock_skew=float(clerk_settings.CLOCK_SKEW_SECONDS),
        max_token_bytes=int(clerk_settings.MAX_TOKEN_BYTES),
    )


def _accept_pending() -> bool:
    return bool(clerk_settings.ACCEPT_PENDING_SESSIONS)


def verifiable_in_place(token: str) -> bool:
    """Whether `verify_session_token(token)` would do no I/O: the key its header names is held in this process
    (or no key source is configured: then it is refused at once)."""
    if len(token) > session_verify_options().max_token_bytes:
        return True  # refused for its size before anything is decoded
    try:
        source = session_key_source()
    except TokenVerificationError:
        return True  # refused at once, whatever the token
    return source.holds(unverified_kid(token))


def verify_session_token(token: str, *, source: TokenSource = "header", now: float | None = None) -> Caller:
    """Verify a Clerk session token with the configured keys and options; return the caller."""
    options = session_verify_options()
    claims = verify_jwt(token, session_key_source(), options, now=now)
    if "aud" in claims and not options.audience:
        # Session tokens carry no audience; one that does was minted for something else (a JWT template for
        # another service, say) and must not open a session here. Stricter than `verifyToken` on purpose.
        raise TokenVerificationError(
            VERIFICATION_FAILED, "Token has an audience (aud): not a session token. Set CLERK_AUDIENCES to accept it."
        )
    caller = caller_from_claims(claims, source=source)
    try:
        # A sub of "org_x:user_y", "anon_..." or "" would name another workspace: refused, whoever minted it.
        check_id(caller.user_id, "The subject (sub)")
        if caller.org_id is not None:
            check_id(caller.org_id, "The organization id")
    except InvalidWorkspaceId as exc:
        raise TokenVerificationError(INVALID, f"{exc}.") from exc
    if caller.session_status == "pending" and not clerk_settings.derived("_accept_pending", _accept_pending):
        raise TokenVerificationError(SESSION_PENDING, "The session is pending: treated as signed out.")
    return caller
