"""Clerk session-token verification, step for step as `@clerk/backend`'s `verifyToken` does it.

Each failing step raises `TokenVerificationError` with Clerk's reason code, so a caller can tell a
client exactly why it was refused and our verdicts can be compared with Clerk's own SDK.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from jwt.algorithms import RSAAlgorithm

from chatauth.errors import TokenVerificationError
from chatauth.keys import KeySource
from chatauth.principal import Principal, TokenSource

SESSION_ALGORITHMS = ("RS256", "RS384", "RS512")
M2M_TOKEN_CATEGORY = "cl_B7d4PD333AAA"

INVALID = "token-invalid"
INVALID_ALGORITHM = "token-invalid-algorithm"
INVALID_SIGNATURE = "token-invalid-signature"
VERIFICATION_FAILED = "token-verification-failed"
INVALID_AUTHORIZED_PARTIES = "token-invalid-authorized-parties"
INVALID_ISSUER = "token-invalid-issuer"
EXPIRED = "token-expired"
NOT_ACTIVE_YET = "token-not-active-yet"
IAT_IN_THE_FUTURE = "token-iat-in-the-future"
SESSION_PENDING = "session-pending"

_HASHES = {"RS256": RSAAlgorithm.SHA256, "RS384": RSAAlgorithm.SHA384, "RS512": RSAAlgorithm.SHA512}


@dataclass(frozen=True, slots=True)
class VerifyOptions:
    issuer: str = ""
    authorized_parties: Sequence[str] = ()
    audience: Sequence[str] = ()
    clock_skew: float = 5.0
    max_token_bytes: int = 8192


def _reject_constant(value: str) -> Any:
    raise ValueError(f"non-standard JSON constant {value}")


def _b64url_decode(part: str) -> bytes:
    if any(c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=" for c in part):
        raise ValueError("not base64url")
    bare = part.rstrip("=")
    decoded = base64.urlsafe_b64decode(bare + "=" * (-len(bare) % 4))
    if base64.urlsafe_b64encode(decoded).rstrip(b"=").decode() != bare:
        raise ValueError("non-canonical base64url")  # stray trailing bits, as Clerk's decoder refuses
    return decoded


def _json_object(part: str) -> dict[str, Any]:
    """A JSON part as an object; other JSON values read as an empty object, as JS destructuring does."""
    value = json.loads(_b64url_decode(part), parse_constant=_reject_constant)
    return value if isinstance(value, dict) else {}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def decode_unverified(token: str, max_bytes: int) -> tuple[dict[str, Any], dict[str, Any], bytes]:
    """Split and decode a compact JWS; any malformation is `token-invalid`."""
    if len(token) > max_bytes:
        raise TokenVerificationError(INVALID, f"Token is longer than {max_bytes} bytes.")
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenVerificationError(INVALID, "Invalid JWT form. A JWT consists of three parts separated by dots.")
    try:
        header = _json_object(parts[0])
        payload = _json_object(parts[1])
        signature = _b64url_decode(parts[2])
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError) as exc:
        raise TokenVerificationError(
            INVALID, "Invalid JWT form. The header, payload, or signature could not be decoded."
        ) from exc
    return header, payload, signature


def verify_jwt(
    token: str, key_source: KeySource, options: VerifyOptions, *, now: float | None = None
) -> dict[str, Any]:
    """Verify a session JWT and return its claims; raise `TokenVerificationError` otherwise."""
    header, payload, signature = decode_unverified(token, options.max_token_bytes)
    if header.get("cat") == M2M_TOKEN_CATEGORY:
        raise TokenVerificationError(INVALID, "Invalid session token category.")
    if "typ" in header and header["typ"] != "JWT":
        raise TokenVerificationError(INVALID, f'Invalid JWT type {json.dumps(header["typ"])}. Expected "JWT".')
    alg = header.get("alg")
    if alg not in SESSION_ALGORITHMS:
        raise TokenVerificationError(
            INVALID_ALGORITHM, f"Invalid JWT algorithm {json.dumps(alg)}. Supported: {','.join(SESSION_ALGORITHMS)}."
        )
    kid = header.get("kid")
    key = key_source.key_for(kid if isinstance(kid, str) else None)
    signing_input = token.rsplit(".", 1)[0].encode()
    if not RSAAlgorithm(_HASHES[alg]).verify(signing_input, key, signature):
        raise TokenVerificationError(INVALID_SIGNATURE, "JWT signature is invalid.")
    check_claims(payload, options, now=time.time() if now is None else now)
    return payload


def check_claims(payload: dict[str, Any], options: VerifyOptions, *, now: float) -> None:
    """The registered-claim assertions, in Clerk's order."""
    sub = payload.get("sub")
    if not isinstance(sub, str):
        raise TokenVerificationError(VERIFICATION_FAILED, "Subject claim (sub) is required and must be a string.")
    _check_audience(payload.get("aud"), options.audience)
    if options.authorized_parties:
        azp = payload.get("azp")
        if not azp or azp not in options.authorized_parties:
            raise TokenVerificationError(
                INVALID_AUTHORIZED_PARTIES, f"Invalid JWT Authorized party claim (azp) {json.dumps(azp)}."
            )
    if options.issuer:
        iss = payload.get("iss")
        if not isinstance(iss, str) or iss != options.issuer:
            raise TokenVerificationError(INVALID_ISSUER, f"Invalid JWT issuer claim (iss) {json.dumps(iss)}.")
    skew = options.clock_skew
    exp = payload.get("exp")
    if not _is_number(exp):
        raise TokenVerificationError(VERIFICATION_FAILED, "Invalid JWT expiry date claim (exp). Expected number.")
    if exp <= now - skew:
        raise TokenVerificationError(EXPIRED, "JWT is expired.")
    if "nbf" in payload:
        nbf = payload["nbf"]
        if not _is_number(nbf):
            raise TokenVerificationError(VERIFICATION_FAILED, "Invalid JWT not before claim (nbf). Expected number.")
        if nbf > now + skew:
            raise TokenVerificationError(NOT_ACTIVE_YET, "JWT cannot be used prior to its not before date (nbf).")
    if "iat" in payload:
        iat = payload["iat"]
        if not _is_number(iat):
            raise TokenVerificationError(VERIFICATION_FAILED, "Invalid JWT issued at claim (iat). Expected number.")
        if iat > now + skew:
            raise TokenVerificationError(IAT_IN_THE_FUTURE, "JWT issued at date claim (iat) is in the future.")


def _check_audience(aud: Any, audience: Sequence[str]) -> None:
    """Clerk checks `aud` only when both an audience is configured and the token carries one."""
    expected = [a for a in audience if a]
    present = [a for a in (aud if isinstance(aud, list) else [aud]) if a]
    if not expected or not present:
        return
    if isinstance(aud, str):
        ok = aud in expected
    elif isinstance(aud, list) and all(isinstance(a, str) for a in aud):
        ok = any(a in expected for a in aud)
    else:
        ok = False
    if not ok:
        raise TokenVerificationError(VERIFICATION_FAILED, f"Invalid JWT audience claim (aud) {json.dumps(aud)}.")


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


def principal_from_claims(claims: dict[str, Any], *, source: TokenSource = "header") -> Principal:
    """Claims (v1 or v2) to a `Principal`, as `@clerk/shared`'s jwtPayloadParser reads them."""
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
    return Principal(
        user_id=claims["sub"],
        session_id=_optional_str(claims.get("sid"), "sid"),
        session_status=_optional_str(claims.get("sts"), "sts"),
        org_id=org_id or None,
        org_role=org_role,
        org_slug=org_slug,
        org_permissions=permissions,
        actor=actor,
        factor_verification_age=tuple(fva) if isinstance(fva, list) and all(_is_number(x) for x in fva) else None,
        token_source=source,
    )


def session_verify_options() -> VerifyOptions:
    from chatauth.conf import clerk_settings

    return VerifyOptions(
        issuer=clerk_settings.issuer,
        authorized_parties=tuple(clerk_settings.AUTHORIZED_PARTIES),
        audience=tuple(clerk_settings.AUDIENCES),
        clock_skew=float(clerk_settings.CLOCK_SKEW_SECONDS),
        max_token_bytes=int(clerk_settings.MAX_TOKEN_BYTES),
    )


def verify_session_token(token: str, *, source: TokenSource = "header", now: float | None = None) -> Principal:
    """Verify a Clerk session token with the configured keys and options; return the caller."""
    from chatauth.conf import clerk_settings
    from chatauth.keys import session_key_source

    options = session_verify_options()
    claims = verify_jwt(token, session_key_source(), options, now=now)
    if "aud" in claims and not options.audience:
        # Session tokens carry no audience; one that does was minted for something else (a JWT template for
        # another service, say) and must not open a session here. Stricter than `verifyToken` on purpose.
        raise TokenVerificationError(
            VERIFICATION_FAILED, "Token has an audience (aud): not a session token. Set CLERK_AUDIENCES to accept it."
        )
    principal = principal_from_claims(claims, source=source)
    if principal.session_status == "pending" and not clerk_settings.ACCEPT_PENDING_SESSIONS:
        raise TokenVerificationError(SESSION_PENDING, "The session is pending: treated as signed out.")
    return principal
