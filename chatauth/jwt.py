"""The one JWT reader of the project: compact-form decoding and the registered-claim checks.

Every credential that is a JWT (Clerk session tokens, provider JWTs on /v1, this service's own workspace
tokens) is split by `decode_unverified` and its `sub`/`aud`/`azp`/`iss`/`exp`/`nbf`/`iat` are checked by
`check_claims`, parameterised by a `ClaimPolicy`. The differences between credentials are policy (is an
audience required, are `nbf`/`iat` required, how long may a token live), never a second implementation.
Signature checks stay with each credential, since each pins its own algorithms and keys.
"""

from __future__ import annotations

import binascii
import json
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

INVALID = "token-invalid"
VERIFICATION_FAILED = "token-verification-failed"
INVALID_AUTHORIZED_PARTIES = "token-invalid-authorized-parties"
INVALID_ISSUER = "token-invalid-issuer"
EXPIRED = "token-expired"
NOT_ACTIVE_YET = "token-not-active-yet"
IAT_IN_THE_FUTURE = "token-iat-in-the-future"
SESSION_ALGORITHMS = ("RS256", "RS384", "RS512")
M2M_TOKEN_CATEGORY = "cl_B7d4PD333AAA"
INVALID_ALGORITHM = "token-invalid-algorithm"
INVALID_SIGNATURE = "token-invalid-signature"

# The hash and padding objects are stateless: made once, not per verification (what PyJWT's RSAAlgorithm does).
_HASHES = {"RS256": hashes.SHA256(), "RS384": hashes.SHA384(), "RS512": hashes.SHA512()}
_PKCS1 = padding.PKCS1v15()

# A base64url segment: the alphabet, then padding only at the end (checked by one regex: a per-character Python
# loop was ~40% of a verification).
_B64URL = re.compile(r"[A-Za-z0-9_-]*=*")
# Canonical form without a re-encode round trip: a segment of 4n+1 characters is never valid, and the last
# character of a 4n+2 (4n+3) one carries 4 (2) bits past the data, which must be zero, as Clerk's decoder demands.
_LAST_CHARACTERS = (None, frozenset(), frozenset("AQgw"), frozenset("AEIMQUYcgkosw048"))
_PADDING = ("", "", "==", "=")
_TO_STANDARD_ALPHABET = bytes.maketrans(b"-_", b"+/")  # bytes.translate: ~5x faster than str.translate here


class KeySource(Protocol):
    """Resolves the RSA key a token's `kid` names (PEM, remote JWKS, dev issuer)."""

    def key_for(self, kid: str | None) -> RSAPublicKey: ...

    def holds(self, kid: str | None) -> bool:
        """Whether `key_for(kid)` answers from this process alone, with no network or shared-cache round trip
        (so an async caller may verify on the event loop instead of in a thread)."""
        ...


class TokenVerificationError(Exception):
    """A token failed one of the checks; `reason` uses Clerk's reason codes."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class ClaimPolicy:
    """What a credential demands of its claims.

    - `audience`: accepted `aud` values. With `audience_required` the token must carry one of them
      (provider JWTs); otherwise `aud` is checked only when both sides have one, as Clerk's SDK does.
    - `require_times`: `nbf` and `iat` must be present (workspace tokens always carry them).
    - `iat_leeway`: extra seconds an `iat` may lie in the future (workspace tokens are valid from iat - 10 s).
    - `max_lifetime`: longest allowed `exp - iat`; a longer-lived token was not minted by this configuration.
    - `malformed_reason`: the reason code for a missing or mistyped claim.
    """

    issuer: str = ""
    authorized_parties: Sequence[str] = ()
    audience: Sequence[str] = ()
    audience_required: bool = False
    clock_skew: float = 5.0
    max_token_bytes: int = 8192
    require_times: bool = False
    iat_leeway: float = 0.0
    max_lifetime: float | None = None
    malformed_reason: str = VERIFICATION_FAILED


def is_number(value: Any) -> bool:
    """A finite JSON number (1e999 parses as infinity: not a time)."""
    if type(value) is int:  # what JSON numbers almost always are: one type check instead of three
        return math.isfinite(value)
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _reject_constant(value: str) -> Any:
    raise ValueError(f"non-standard JSON constant {value}")


def b64url_decode(part: str) -> bytes:
    """One base64url segment (trailing `=` allowed), refused unless it is the canonical encoding of its bytes."""
    if not _B64URL.fullmatch(part):
        raise ValueError("not base64url")
    bare = part.rstrip("=")
    tail = len(bare) % 4
    if tail:
        allowed = _LAST_CHARACTERS[tail]
        if allowed is None or bare[-1] not in allowed:
            raise ValueError("non-canonical base64url")  # 4n+1 characters, or stray trailing bits
    return binascii.a2b_base64((bare + _PADDING[tail]).encode().translate(_TO_STANDARD_ALPHABET))


# One decoder, built once: `json.loads(..., parse_constant=...)` built a new one (and its scanner) on every call.
_JSON = json.JSONDecoder(parse_constant=_reject_constant)


def _json_object(part: str) -> dict[str, Any]:
    """A JSON part as an object; other JSON values read as an empty object, as JS destructuring does."""
    raw = b64url_decode(part)
    # What `json.loads(raw)` does with bytes: UTF-8 for a JSON object (`{` then not a NUL), else the encoding
    # sniffed from the first bytes (UTF-16/32, a UTF-8 BOM).
    encoding = "utf-8" if raw[:1] == b"{" and raw[1:2] != b"\x00" else json.detect_encoding(raw)
    value = _JSON.decode(raw.decode(encoding, "surrogatepass"))
    return value if isinstance(value, dict) else {}


# Decoded headers by their segment: every token of one issuer key has the same header, so it is decoded once.
# Bounded (a stream of distinct headers only empties it); each caller gets its own copy.
_HEADERS: dict[str, dict[str, Any]] = {}
_MAX_HEADERS = 64


def _header(part: str) -> dict[str, Any]:
    header = _HEADERS.get(part)
    if header is None:
        header = _json_object(part)
        if len(_HEADERS) >= _MAX_HEADERS:
            _HEADERS.clear()
        _HEADERS[part] = header
    return header.copy()


def unverified_kid(token: str) -> str | None:
    """The `kid` a token's header names (not verified: only to pick where its key comes from); None if none."""
    try:
        kid = _header(token.partition(".")[0]).get("kid")
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError):
        return None
    return kid if isinstance(kid, str) else None


# Decoded tokens by their text. A client sends the same session token with every request of its life (Clerk's live
# 60 s, the SDKs refresh them ahead of expiry), so its parts are decoded once, not per request (a third of a
# verification's cost beside the signature check). Only the decoding is kept: the signature and the claims are
# checked on every use. Bounded like `_HEADERS` (many distinct tokens only empty it), and only tokens of a session
# token's size are kept (any well-formed token is decoded before its signature is checked: a flood of large forged
# ones holds at most `_MAX_DECODED` x `_MAX_DECODED_BYTES`); callers get their own copies.
_DECODED: dict[str, tuple[dict[str, Any], dict[str, Any], bytes]] = {}
_MAX_DECODED = 512
_MAX_DECODED_BYTES = 2048  # Clerk's session tokens are under 1 KiB without custom claims


def decode_unverified(token: str, max_bytes: int) -> tuple[dict[str, Any], dict[str, Any], bytes]:
    """Split and decode a compact JWS; any malformation is `token-invalid`."""
    if len(token) > max_bytes:
        raise TokenVerificationError(INVALID, f"Token is longer than {max_bytes} bytes.")
    decoded = _DECODED.get(token)
    if decoded is None:
        decoded = _decode(token)
        if len(token) <= _MAX_DECODED_BYTES:
            if len(_DECODED) >= _MAX_DECODED:
                _DECODED.clear()
            _DECODED[token] = decoded
    header, payload, signature = decoded
    return header.copy(), payload.copy(), signature


def _decode(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes]:
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenVerificationError(INVALID, "Invalid JWT form. A JWT consists of three parts separated by dots.")
    try:
        header = _header(parts[0])
        payload = _json_object(parts[1])
        signature = b64url_decode(parts[2])
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError) as exc:
        raise TokenVerificationError(
            INVALID, "Invalid JWT form. The header, payload, or signature could not be decoded."
        ) from exc
    return header, payload, signature


def signing_input(token: str) -> bytes:
    return token.rsplit(".", 1)[0].encode()


def check_claims(payload: dict[str, Any], policy: ClaimPolicy, *, now: float) -> None:
    """The registered-claim assertions, in Clerk's order; raises `TokenVerificationError`."""
    bad = policy.malformed_reason
    if not isinstance(payload.get("sub"), str):
        raise TokenVerificationError(bad, "Subject claim (sub) is required and must be a string.")
    if policy.audience or policy.audience_required:  # else Clerk ignores `aud` (see _check_audience)
        _check_audience(payload.get("aud"), policy)
    if policy.authorized_parties:
        azp = payload.get("azp")
        if not azp or azp not in policy.authorized_parties:
            raise TokenVerificationError(
                INVALID_AUTHORIZED_PARTIES, f"Invalid JWT Authorized party claim (azp) {json.dumps(azp)}."
            )
    if policy.issuer:
        iss = payload.get("iss")
        if not isinstance(iss, str) or iss != policy.issuer:
            raise TokenVerificationError(INVALID_ISSUER, f"Invalid JWT issuer claim (iss) {json.dumps(iss)}.")
    skew = policy.clock_skew
    exp = payload.get("exp")
    if not is_number(exp):
        raise TokenVerificationError(bad, "Invalid JWT expiry date claim (exp). Expected number.")
    if exp <= now - skew:
        raise TokenVerificationError(EXPIRED, "JWT is expired.")
    if policy.require_times:
        for claim in ("nbf", "iat"):
            if claim not in payload:
                raise TokenVerificationError(bad, f"The {claim} claim is required.")
    if "nbf" in payload:
        nbf = payload["nbf"]
        if not is_number(nbf):
            raise TokenVerificationError(bad, "Invalid JWT not before claim (nbf). Expected number.")
        if nbf > now + skew:
            raise TokenVerificationError(NOT_ACTIVE_YET, "JWT cannot be used prior to its not before date (nbf).")
    if "iat" in payload:
        iat = payload["iat"]
        if not is_number(iat):
            raise TokenVerificationError(bad, "Invalid JWT issued at claim (iat). Expected number.")
        if iat > now + skew + policy.iat_leeway:
            raise TokenVerificationError(IAT_IN_THE_FUTURE, "JWT issued at date claim (iat) is in the future.")
        if policy.max_lifetime is not None and exp - iat > policy.max_lifetime + skew:
            raise TokenVerificationError(INVALID, "The token lives longer than allowed.")


def _check_audience(aud: Any, policy: ClaimPolicy) -> None:
    expected = [a for a in policy.audience if a]
    present = [a for a in (aud if isinstance(aud, list) else [aud]) if a]
    if policy.audience_required:
        if not expected:
            raise TokenVerificationError(VERIFICATION_FAILED, "No audience is configured for this issuer.")
        if not present:
            raise TokenVerificationError(VERIFICATION_FAILED, "The token has no audience (aud).")
    elif not expected or not present:
        return  # Clerk checks `aud` only when both an audience is configured and the token carries one
    if isinstance(aud, str):
        ok = aud in expected
    elif isinstance(aud, list) and all(isinstance(a, str) for a in aud):
        ok = any(a in expected for a in aud)
    else:
        ok = False
    if not ok:
        raise TokenVerificationError(VERIFICATION_FAILED, f"Invalid JWT audience claim (aud) {json.dumps(aud)}.")


def verify_jwt(
    token: str, key_source: KeySource, policy: ClaimPolicy, *, now: float | None = None
) -> dict[str, Any]:
    """Verify an RS256/384/512 JWT (Clerk sessions, provider JWTs) with `key_source` and `policy`; its claims."""
    header, payload, signature = decode_unverified(token, policy.max_token_bytes)
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
    try:
        key.verify(signature, signing_input(token), _PKCS1, _HASHES[alg])
    except InvalidSignature:
        raise TokenVerificationError(INVALID_SIGNATURE, "JWT signature is invalid.") from None
    check_claims(payload, policy, now=time.time() if now is None else now)
    return payload
