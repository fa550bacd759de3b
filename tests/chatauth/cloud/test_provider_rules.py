"""Provider JWTs (a Clerk JWT template with aud "assistant-ui") verified against a loopback JWKS via auth rules."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from chatauth.cloud.tokens import verify
from chatauth.models import AuthRule
from tests.support.cloud import PROVIDER_ISSUER
from tests.support.jwks_server import JwksServer
from tests.support.keys import KeyPair

pytestmark = pytest.mark.django_db


def provider_claims(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": PROVIDER_ISSUER,
        "sub": "user_p",
        "aud": "assistant-ui",
        "iat": now,
        "nbf": now - 5,
        "exp": now + 60,
    }
    claims.update(extra)
    return {k: v for k, v in claims.items() if v is not ...}


def call(token: str, path: str = "/v1/threads") -> Any:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client.get(path)


def test_provider_token_is_exchanged_for_a_workspace_token(provider_rule: AuthRule, signing_key: KeyPair) -> None:
    response = call(signing_key.sign(provider_claims(org_id="org_7")))
    assert response.status_code == 200
    scheme, _, token = response["Authorization"].partition(" ")
    assert scheme == "Bearer" and verify(token).workspace.key == "org_7:user_p"
    assert call(token).status_code == 200 and "Authorization" not in call(token)


def test_jwks_is_fetched_once_and_cached(
    provider_rule: AuthRule, signing_key: KeyPair, jwks_server: JwksServer
) -> None:
    for _ in range(3):
        assert call(signing_key.sign(provider_claims())).status_code == 200
    assert jwks_server.hits == 1


def test_rotated_provider_key_is_picked_up(
    provider_rule: AuthRule, signing_key: KeyPair, other_key: KeyPair, jwks_server: JwksServer
) -> None:
    assert call(signing_key.sign(provider_claims())).status_code == 200
    jwks_server.document = {"keys": [signing_key.jwk, other_key.jwk]}
    assert call(other_key.sign(provider_claims())).status_code == 200


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        ({"aud": "something-else"}, "token-verification-failed"),
        ({"aud": ...}, "token-verification-failed"),
        ({"exp": int(time.time()) - 60}, "token-expired"),
        ({"sub": "anon_stolen"}, "token-verification-failed"),
        ({"iss": "https://unknown.example"}, "token-no-auth-rule"),
    ],
    ids=["wrong-aud", "no-aud", "expired", "reserved-user-id", "unknown-issuer"],
)
def test_bad_provider_tokens_get_401_json(
    provider_rule: AuthRule, signing_key: KeyPair, claims: dict[str, Any], expected: str
) -> None:
    response = call(signing_key.sign(provider_claims(**claims)))
    assert response.status_code == 401
    assert response.json()["error"] == expected and response.json()["message"]
    assert "Authorization" not in response


def test_token_signed_by_a_key_not_in_the_jwks_is_refused(provider_rule: AuthRule, other_key: KeyPair) -> None:
    assert call(other_key.sign(provider_claims())).json()["error"] == "jwk-kid-mismatch"


def test_disabled_rule_accepts_nothing(provider_rule: AuthRule, signing_key: KeyPair) -> None:
    provider_rule.enabled = False
    provider_rule.save()
    assert call(signing_key.sign(provider_claims())).status_code == 401


def test_rule_requires_https_jwks_and_an_audience(cloud: Any) -> None:
    rule = AuthRule(name="x", issuer="https://i", jwks_url="http://example.com/jwks.json", audience="assistant-ui")
    with pytest.raises(ValidationError):
        rule.clean()
    rule = AuthRule(name="x", issuer="https://i", jwks_url="https://example.com/jwks.json", audience=" ")
    with pytest.raises(ValidationError):
        rule.clean()
