"""Workspace tokens: lifetime and clock skew, kid-based key rotation, pinned algorithms, consistent claims."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from chatauth.caller import Workspace
from chatauth.cloud.tokens import mint, parse_workspace_id, verify, workspace_id_of
from chatauth.jwt import TokenVerificationError
from tests.support.cloud import KEY_A, KEY_B
from tests.support.keys import KeyPair

NOW = 1_800_000_000.0
ALICE = Workspace("user_alice")
ALICE_IN_ORG = Workspace("user_alice", "org_1")


def reason(token: str, **kw: Any) -> str:
    with pytest.raises(TokenVerificationError) as info:
        verify(token, **kw)
    return info.value.reason


def test_token_names_the_workspace_with_hosted_claims(cloud: Any) -> None:
    token = mint(ALICE_IN_ORG, now=NOW)
    header, claims = jwt.get_unverified_header(token), jwt.decode(token, options={"verify_signature": False})
    assert header["kid"] == KEY_A["kid"] and header["alg"] == "HS256"
    assert claims["sub"] == "user_alice" and claims["workspace_id"] == "org_1:user_alice"
    assert claims["exp"] - claims["iat"] == 300 and claims["iat"] - claims["nbf"] == 10
    assert claims["project_id"] == "default"
    assert verify(token, now=NOW).workspace == ALICE_IN_ORG


def test_token_lifetime_is_a_setting(cloud: Any, settings: Any) -> None:
    settings.CLOUD = {**cloud, "TOKEN_TTL_SECONDS": 60}
    claims = jwt.decode(mint(ALICE, now=NOW), options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 60


def test_expired_token_is_refused_after_the_clock_skew(cloud: Any) -> None:
    token = mint(ALICE, now=NOW)
    assert verify(token, now=NOW + 300 + 4).workspace == ALICE  # within the 5 s skew
    assert reason(token, now=NOW + 300 + 5) == "token-expired"


def test_token_from_a_clock_ahead_is_accepted_within_skew_only(cloud: Any) -> None:
    token = mint(ALICE, now=NOW)
    assert verify(token, now=NOW - 14).workspace == ALICE  # nbf = iat - 10, plus 5 s skew
    assert reason(token, now=NOW - 16) == "token-not-active-yet"


def test_issued_in_the_future_is_refused(cloud: Any) -> None:
    key = KEY_A["secret"]
    claims = {
        "iss": "chat-backend",
        "sub": "user_alice",
        "workspace_id": "user_alice",
        "token_use": "workspace",
        "iat": NOW + 60,
        "nbf": NOW - 10,
        "exp": NOW + 120,
    }
    token = jwt.encode(claims, key, algorithm="HS256", headers={"kid": KEY_A["kid"]})
    assert reason(token, now=NOW) == "token-iat-in-the-future"


def test_rotation_new_key_signs_old_key_still_verifies(cloud: Any, settings: Any) -> None:
    old = mint(ALICE, now=NOW)
    settings.CLOUD = {**cloud, "SIGNING_KEYS": [KEY_B, KEY_A]}
    new = mint(ALICE, now=NOW)
    assert jwt.get_unverified_header(new)["kid"] == KEY_B["kid"]
    assert verify(old, now=NOW).workspace == verify(new, now=NOW).workspace == ALICE


def test_rotation_retired_key_is_refused(cloud: Any, settings: Any) -> None:
    old = mint(ALICE, now=NOW)
    settings.CLOUD = {**cloud, "SIGNING_KEYS": [KEY_B]}
    assert reason(old, now=NOW) == "jwk-kid-mismatch"


def test_rsa_signing_key_works_and_public_half_verifies(cloud: Any, settings: Any) -> None:
    pair = KeyPair(kid="rsa-1")
    pem = pair.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    settings.CLOUD = {**cloud, "SIGNING_KEYS": [{"kid": "rsa-1", "private_key": pem}]}
    token = mint(ALICE, now=NOW)
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    settings.CLOUD = {**cloud, "SIGNING_KEYS": [KEY_A, {"kid": "rsa-1", "public_key": pair.public_pem}]}
    assert verify(token, now=NOW).workspace == ALICE


def test_algorithm_is_pinned_to_the_key(cloud: Any) -> None:
    claims = jwt.decode(mint(ALICE, now=NOW), options={"verify_signature": False})
    forged = jwt.encode(claims, KEY_A["secret"] * 2, algorithm="HS512", headers={"kid": KEY_A["kid"]})
    assert reason(forged, now=NOW) == "token-invalid-algorithm"


def test_tampered_payload_is_refused(cloud: Any) -> None:
    header, _payload, sig = mint(ALICE, now=NOW).split(".")
    other = mint(Workspace("user_mallory"), now=NOW).split(".")[1]
    assert reason(f"{header}.{other}.{sig}", now=NOW) == "token-invalid-signature"


def test_token_signed_with_another_secret_is_refused(cloud: Any) -> None:
    claims = jwt.decode(mint(ALICE, now=NOW), options={"verify_signature": False})
    forged = jwt.encode(claims, "x" * 48, algorithm="HS256", headers={"kid": KEY_A["kid"]})
    assert reason(forged, now=NOW) == "token-invalid-signature"


def test_workspace_id_must_match_sub_and_org(cloud: Any) -> None:
    claims = jwt.decode(mint(ALICE, now=NOW), options={"verify_signature": False})
    forged = jwt.encode(
        {**claims, "workspace_id": "org_9:user_alice"},
        KEY_A["secret"],
        algorithm="HS256",
        headers={"kid": KEY_A["kid"]},
    )
    assert reason(forged, now=NOW) == "token-invalid"


def test_token_living_longer_than_configured_is_refused(cloud: Any) -> None:
    assert reason(mint(ALICE, now=NOW, ttl=3600), now=NOW) == "token-invalid"


def test_default_key_is_derived_from_secret_key(settings: Any) -> None:
    settings.CLOUD = {}
    token = mint(ALICE)
    assert verify(token).workspace == ALICE
    settings.SECRET_KEY = "another-secret-key-for-this-test-only-0123456789"
    assert reason(token) == "jwk-kid-mismatch"


def test_workspace_id_format_is_a_setting(cloud: Any, settings: Any) -> None:
    settings.CLOUD = {**cloud, "WORKSPACE_ID_FORMAT": "{project_id}/{user_id}"}
    assert parse_workspace_id("proj_7/user_1", "user_1") == Workspace("user_1", "proj_7")
    assert workspace_id_of(Workspace("user_1", "proj_7")) == "proj_7/user_1"
    assert verify(mint(Workspace("user_1", "proj_7"))).workspace == Workspace("user_1", "proj_7")


@pytest.mark.parametrize(
    ("workspace_id", "user_id"),
    [
        ("org_1:user_2", "user_1"),
        ("user_2", "user_1"),
        ("a:b:user_1", "user_1"),
        ("org 1:user_1", "user_1"),
        ("anon_x", "anon_x"),
        ("", "user_1"),
    ],
)
def test_workspace_headers_that_do_not_name_the_user_are_refused(cloud: Any, workspace_id: str, user_id: str) -> None:
    from chatauth.cloud.tokens import InvalidWorkspaceId

    with pytest.raises(InvalidWorkspaceId):
        parse_workspace_id(workspace_id, user_id)


def test_real_clock_round_trip(cloud: Any) -> None:
    claims = verify(mint(ALICE))
    assert claims.expires_at > time.time() + 290


def test_unsigned_alg_none_token_is_refused(cloud: Any) -> None:
    _header, payload, _ = mint(ALICE, now=NOW).split(".")
    none_header = jwt.utils.base64url_encode(b'{"alg":"none","kid":"ws-key-a","typ":"JWT"}').decode()
    assert reason(f"{none_header}.{payload}.", now=NOW) == "token-invalid-algorithm"


@pytest.mark.parametrize("missing", ["exp", "nbf", "iat", "sub"])
def test_token_missing_a_required_claim_is_refused(cloud: Any, missing: str) -> None:
    claims = jwt.decode(mint(ALICE, now=NOW), options={"verify_signature": False})
    del claims[missing]
    forged = jwt.encode(claims, KEY_A["secret"], algorithm="HS256", headers={"kid": KEY_A["kid"]})
    assert reason(forged, now=NOW) == "token-invalid"
