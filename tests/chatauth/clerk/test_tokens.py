"""Session-token verification: a corpus of bad tokens, each refused for the right reason, and good ones accepted.

Tokens are served keys by a real JWKS server on loopback and go through the middleware over the test client,
so every verdict is what a caller of the API would see.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from rest_framework.test import APIClient

from tests.conftest import ISSUER
from tests.support.keys import KeyPair, b64url, session_claims

pytestmark = pytest.mark.django_db

AUTHORIZED = "http://localhost:3000"


def now() -> int:
    """When the case runs, not when the module was imported: on a shared machine a run can take minutes to reach a
    case, and a token "100 s in the future" at import time is valid by then."""
    return int(time.time())


def _forge(header: dict[str, Any], payload: Any, signature: bytes = b"sig") -> str:
    return ".".join([b64url(json.dumps(header).encode()), b64url(json.dumps(payload).encode()), b64url(signature)])


def _hs256_with_public_key(key: KeyPair) -> str:
    """The classic key-confusion forgery: HS256 with the RSA public key as the HMAC secret."""
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT", "kid": key.kid}).encode())
    payload = b64url(json.dumps(session_claims(issuer=ISSUER, azp=AUTHORIZED)).encode())
    mac = hmac.new(key.public_pem.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64url(mac)}"


def _tampered(key: KeyPair) -> str:
    token = key.sign(session_claims(issuer=ISSUER, azp=AUTHORIZED))
    header, _, signature = token.split(".")
    payload = b64url(json.dumps(session_claims(sub="user_admin", issuer=ISSUER, azp=AUTHORIZED)).encode())
    return f"{header}.{payload}.{signature}"


def _es256() -> str:
    private = ec.generate_private_key(ec.SECP256R1())
    return jwt.encode(session_claims(issuer=ISSUER, azp=AUTHORIZED), private, algorithm="ES256", headers={"kid": "x"})


def _claims(**extra: Any) -> dict[str, Any]:
    """Valid session claims with `extra` applied; a value of `...` removes that claim."""
    return session_claims(**{"issuer": ISSUER, "azp": AUTHORIZED, **extra})


def _signed_raw(key: KeyPair, raw_payload: bytes, header: dict[str, Any] | None = None) -> str:
    """A correctly RS256-signed token around any header and payload bytes."""
    head = b64url(json.dumps(header or {"alg": "RS256", "typ": "JWT", "kid": key.kid}).encode())
    body = b64url(raw_payload)
    signature = key.private_key.sign(f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{head}.{body}.{b64url(signature)}"


def _truncated_signature(key: KeyPair) -> str:
    head, body, signature = key.sign(_claims()).split(".")
    raw = base64.urlsafe_b64decode(signature + "==")
    return f"{head}.{body}.{b64url(raw[:-4])}"


def _segment(token: str, index: int, change: Callable[[str], str]) -> str:
    parts = token.split(".")
    parts[index] = change(parts[index])
    return ".".join(parts)


def _stray_bits(segment: str) -> str:
    """Non-zero pad bits in the last character: bytes a lenient decoder reads, a canonical one refuses."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    if len(segment) % 4 == 0:
        segment = segment[:-1]  # drop to a length with pad bits: the last byte's low bits become padding
    return segment[:-1] + alphabet[alphabet.index(segment[-1]) | 1]


# name -> (token factory taking (signing_key, other_key), expected reason)
BAD_TOKENS: dict[str, tuple[Callable[[KeyPair, KeyPair], str], str]] = {
    "expired": (lambda k, o: k.sign(_claims(exp=now() - 100)), "token-expired"),
    "expired_beyond_skew": (lambda k, o: k.sign(_claims(exp=now() - 6)), "token-expired"),
    "not_yet_valid": (lambda k, o: k.sign(_claims(nbf=now() + 100)), "token-not-active-yet"),
    "iat_in_the_future": (lambda k, o: k.sign(_claims(iat=now() + 100)), "token-iat-in-the-future"),
    "alg_none": (lambda k, o: _forge({"alg": "none", "typ": "JWT"}, _claims(), b""), "token-invalid-algorithm"),
    "alg_missing": (lambda k, o: _forge({"typ": "JWT", "kid": k.kid}, _claims()), "token-invalid-algorithm"),
    "hs256_with_public_key": (lambda k, o: _hs256_with_public_key(k), "token-invalid-algorithm"),
    "es256": (lambda k, o: _es256(), "token-invalid-algorithm"),
    "ps256": (lambda k, o: k.sign(_claims(), alg="PS256"), "token-invalid-algorithm"),
    "wrong_key_same_kid": (lambda k, o: o.sign(_claims(), headers={"kid": k.kid}), "token-invalid-signature"),
    "tampered_payload": (lambda k, o: _tampered(k), "token-invalid-signature"),
    "alg_swapped_rs512_signed_rs256": (
        lambda k, o: ".".join(
            [
                b64url(json.dumps({"alg": "RS512", "typ": "JWT", "kid": k.kid}).encode()),
                *k.sign(_claims()).split(".")[1:],
            ]
        ),
        "token-invalid-signature",
    ),
    "truncated_signature": (lambda k, o: _truncated_signature(k), "token-invalid-signature"),
    "empty_signature": (lambda k, o: k.sign(_claims()).rsplit(".", 1)[0] + ".", "token-invalid-signature"),
    "unknown_kid": (lambda k, o: o.sign(_claims()), "jwk-kid-mismatch"),
    "missing_kid": (lambda k, o: _forge({"alg": "RS256", "typ": "JWT"}, _claims()), "jwk-kid-mismatch"),
    "wrong_azp": (lambda k, o: k.sign(_claims(azp="https://evil.example")), "token-invalid-authorized-parties"),
    "missing_azp": (lambda k, o: k.sign(_claims(azp=...)), "token-invalid-authorized-parties"),
    "wrong_iss": (lambda k, o: k.sign(_claims(iss="https://clerk.other.test")), "token-invalid-issuer"),
    "missing_iss": (lambda k, o: k.sign(_claims(iss=...)), "token-invalid-issuer"),
    "missing_sub": (lambda k, o: k.sign(_claims(sub=...)), "token-verification-failed"),
    "numeric_sub": (lambda k, o: k.sign(_claims(sub=42)), "token-verification-failed"),
    "missing_exp": (lambda k, o: k.sign(_claims(exp=...)), "token-verification-failed"),
    "string_exp": (lambda k, o: k.sign(_claims(exp=str(now() + 60))), "token-verification-failed"),
    "boolean_exp": (lambda k, o: k.sign(_claims(exp=True)), "token-verification-failed"),
    "string_nbf": (lambda k, o: k.sign(_claims(nbf="0")), "token-verification-failed"),
    "string_iat": (lambda k, o: k.sign(_claims(iat="0")), "token-verification-failed"),
    "typ_not_jwt": (lambda k, o: k.sign(_claims(), headers={"typ": "at+jwt"}), "token-invalid"),
    "typ_null": (
        lambda k, o: _signed_raw(k, json.dumps(_claims()).encode(), {"alg": "RS256", "typ": None, "kid": k.kid}),
        "token-invalid",
    ),
    "m2m_category": (lambda k, o: k.sign(_claims(), headers={"cat": "cl_B7d4PD333AAA"}), "token-invalid"),
    "garbage_base64": (lambda k, o: "e30!.@@@.###", "token-invalid"),
    "non_canonical_base64": (lambda k, o: k.sign(_claims())[:-3] + "abc", "token-invalid"),
    "non_canonical_header": (lambda k, o: _segment(k.sign(_claims()), 0, _stray_bits), "token-invalid"),
    "non_canonical_payload": (lambda k, o: _segment(k.sign(_claims()), 1, _stray_bits), "token-invalid"),
    "signature_of_4n_plus_1_characters": (
        lambda k, o: _segment(k.sign(_claims()), 2, lambda s: s + "A" * ((1 - len(s)) % 4 or 4)),
        "token-invalid",
    ),
    "padding_inside_a_segment": (
        lambda k, o: _segment(k.sign(_claims()), 1, lambda s: s[:8] + "==" + s[8:]),
        "token-invalid",
    ),
    "standard_base64_alphabet": (
        lambda k, o: _segment(k.sign(_claims()), 2, lambda s: s.replace("-", "+").replace("_", "/") + "+/"),
        "token-invalid",
    ),
    "whitespace_in_a_segment": (
        lambda k, o: _segment(k.sign(_claims()), 1, lambda s: s[:8] + " " + s[8:]),
        "token-invalid",
    ),
    "non_ascii_digits": (
        lambda k, o: _segment(k.sign(_claims()), 0, lambda s: s[:4] + "\u0663" * 4 + s[4:]),
        "token-invalid",
    ),
    "two_parts": (lambda k, o: "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0", "token-invalid"),
    "four_parts": (lambda k, o: k.sign(_claims()) + ".extra", "token-invalid"),
    "header_not_json": (lambda k, o: b64url(b"not json") + "." + k.sign(_claims()).split(".", 1)[1], "token-invalid"),
    "payload_not_object": (lambda k, o: _signed_raw(k, b"[1, 2, 3]"), "token-verification-failed"),
    "payload_nan_exp": (lambda k, o: _signed_raw(k, b'{"sub": "u", "exp": NaN}'), "token-invalid"),
    "huge_token": (lambda k, o: k.sign(_claims(pad="x" * 20000)), "token-invalid"),
    "pending_session": (lambda k, o: k.sign(_claims(sts="pending")), "session-pending"),
    "jwt_template_with_audience": (lambda k, o: k.sign(_claims(aud="assistant-ui")), "token-verification-failed"),
    "v2_org_not_object": (lambda k, o: k.sign(_claims(o="org_1")), "token-invalid"),
    "v2_malformed_features": (
        lambda k, o: k.sign(_claims(o={"id": "org_1", "rol": "admin", "per": "read", "fpm": "1"}, fea="billing")),
        "token-invalid",
    ),
}


@pytest.fixture
def strict_clerk(settings: Any, clerk_jwks: Any) -> Any:
    settings.CLERK = {**settings.CLERK, "AUTHORIZED_PARTIES": [AUTHORIZED]}
    return clerk_jwks


def _get_me(token: str) -> Any:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client.get("/api/me")


def test_the_corpus_has_at_least_thirty_distinct_bad_tokens():
    assert len(BAD_TOKENS) >= 30


@pytest.mark.parametrize("name", sorted(BAD_TOKENS))
def test_bad_token_is_refused_with_its_reason(name: str, strict_clerk: Any, signing_key: KeyPair, other_key: KeyPair):
    factory, reason = BAD_TOKENS[name]
    response = _get_me(factory(signing_key, other_key))
    assert response.status_code == 401
    assert response.json()["error"] == reason
    assert response.json()["message"]
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_token_within_clock_skew_is_accepted(strict_clerk: Any, signing_key: KeyPair):
    now = int(time.time())
    response = _get_me(signing_key.sign(_claims(exp=now - 2, iat=now + 3, nbf=now + 3)))
    assert response.status_code == 200


def test_clock_skew_is_a_setting(settings: Any, strict_clerk: Any, signing_key: KeyPair):
    settings.CLERK = {**settings.CLERK, "CLOCK_SKEW_SECONDS": 0}
    assert _get_me(signing_key.sign(_claims(exp=int(time.time()) - 2))).json()["error"] == "token-expired"


@pytest.mark.parametrize("alg", ["RS256", "RS384", "RS512"])
def test_rsa_algorithms_are_accepted(alg: str, strict_clerk: Any, signing_key: KeyPair):
    assert _get_me(signing_key.sign(_claims(), alg=alg)).status_code == 200


def test_v1_claims_without_organization(strict_clerk: Any, signing_key: KeyPair):
    body = _get_me(signing_key.sign(_claims(v=..., sid="sess_1"))).json()
    assert body["user_id"] == "user_123"
    assert body["session_id"] == "sess_1"
    assert body["org_id"] is None
    assert body["workspace"] == "user_123"


def test_v1_claims_with_organization(strict_clerk: Any, signing_key: KeyPair):
    claims = _claims(v=..., org_id="org_1", org_role="org:admin", org_slug="acme", org_permissions=["org:billing:read"])
    body = _get_me(signing_key.sign(claims)).json()
    assert (body["org_id"], body["org_role"], body["org_slug"]) == ("org_1", "org:admin", "acme")
    assert body["org_permissions"] == ["org:billing:read"]
    assert body["workspace"] == "org_1:user_123"


def test_v2_claims_without_organization(strict_clerk: Any, signing_key: KeyPair):
    body = _get_me(signing_key.sign(_claims(v=2))).json()
    assert body["org_id"] is None
    assert body["org_permissions"] == []


def test_v2_claims_decode_feature_permission_bitmasks(strict_clerk: Any, signing_key: KeyPair):
    org = {"id": "org_9", "rol": "admin", "slg": "nine", "per": "read,manage", "fpm": "3,1"}
    body = _get_me(signing_key.sign(_claims(v=2, o=org, fea="o:billing,u:profile,o:reports"))).json()
    assert body["org_role"] == "org:admin"
    assert body["org_slug"] == "nine"
    assert body["org_permissions"] == ["org:billing:read", "org:billing:manage", "org:reports:read"]
    assert body["workspace"] == "org_9:user_123"


def test_actor_claim_is_exposed_for_impersonation(strict_clerk: Any, signing_key: KeyPair):
    body = _get_me(signing_key.sign(_claims(act={"sub": "user_support", "iss": "https://dashboard.clerk.com"}))).json()
    assert body["actor"] == {"sub": "user_support", "iss": "https://dashboard.clerk.com"}


def test_pending_session_is_accepted_when_the_setting_allows_it(settings: Any, strict_clerk: Any, signing_key: KeyPair):
    settings.CLERK = {**settings.CLERK, "ACCEPT_PENDING_SESSIONS": True}
    body = _get_me(signing_key.sign(_claims(sts="pending"))).json()
    assert body["session_status"] == "pending"


def test_token_with_an_accepted_audience_is_a_session(settings: Any, strict_clerk: Any, signing_key: KeyPair):
    settings.CLERK = {**settings.CLERK, "AUDIENCES": ["my-api"]}
    assert _get_me(signing_key.sign(_claims(aud="my-api"))).status_code == 200
    assert _get_me(signing_key.sign(_claims(aud="assistant-ui"))).json()["error"] == "token-verification-failed"


def test_refused_token_never_reaches_a_500_with_a_hostile_authorization_header(strict_clerk: Any):
    for value in [
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Bearer \u00e9\u00e9.\u00e9.\u00e9",
        "Bearer " + "a." * 5000,
    ]:
        response = APIClient().get("/api/me", HTTP_AUTHORIZATION=value)
        assert response.status_code == 401, value
        assert "error" in response.json()
