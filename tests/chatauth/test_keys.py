"""Where keys come from: the shared JWKS cache, refresh on rotation without storms, outages, derived URLs."""

from __future__ import annotations

import base64
import time
from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from chatauth.clerk.conf import clerk_settings, parse_publishable_key
from chatauth.keys import session_key_source
from tests.chatauth.clerk.test_tokens import _claims
from tests.conftest import ISSUER
from tests.support.jwks_server import JwksServer
from tests.support.keys import KeyPair

pytestmark = pytest.mark.django_db


def _me(token: str) -> Any:
    return APIClient().get("/api/me", HTTP_AUTHORIZATION=f"Bearer {token}")


def test_jwks_is_fetched_once_for_many_requests(clerk_jwks: JwksServer, signing_key: KeyPair):
    for _ in range(50):
        assert _me(signing_key.sign(_claims())).status_code == 200
    assert clerk_jwks.hits == 1


def test_warm_cache_keeps_working_when_the_jwks_endpoint_is_down(clerk_jwks: JwksServer, signing_key: KeyPair):
    assert _me(signing_key.sign(_claims())).status_code == 200
    clerk_jwks.stop()
    assert _me(signing_key.sign(_claims())).status_code == 200


def test_stale_cache_is_served_when_refresh_fails(settings: Any, clerk_jwks: JwksServer, signing_key: KeyPair):
    settings.CLERK = {**settings.CLERK, "JWKS_CACHE_TTL_SECONDS": 1, "JWKS_REFRESH_INTERVAL_SECONDS": 1}
    assert _me(signing_key.sign(_claims())).status_code == 200
    clerk_jwks.status = 503
    time.sleep(1.1)
    assert _me(signing_key.sign(_claims())).status_code == 200
    assert clerk_jwks.hits == 2


def test_cold_cache_and_unreachable_jwks_fail_closed(clerk_jwks: JwksServer, signing_key: KeyPair):
    clerk_jwks.stop()
    response = _me(signing_key.sign(_claims()))
    assert response.status_code == 401
    assert response.json()["error"] == "jwk-remote-failed-to-load"


def test_failed_cold_load_backs_off_instead_of_hammering_the_endpoint(clerk_jwks: JwksServer, signing_key: KeyPair):
    clerk_jwks.status = 500
    for _ in range(10):
        assert _me(signing_key.sign(_claims())).json()["error"] == "jwk-remote-failed-to-load"
    assert clerk_jwks.hits == 1


def test_jwks_answering_garbage_fails_closed(clerk_jwks: JwksServer, signing_key: KeyPair):
    clerk_jwks.document = {"keys": "nope"}
    assert _me(signing_key.sign(_claims())).json()["error"] == "jwk-remote-failed-to-load"


def test_key_rotation_picks_up_a_new_kid_with_one_fetch(
    clerk_jwks: JwksServer, signing_key: KeyPair, other_key: KeyPair
):
    assert _me(signing_key.sign(_claims())).status_code == 200
    clerk_jwks.document = {"keys": [signing_key.jwk, other_key.jwk]}
    for _ in range(5):
        assert _me(other_key.sign(_claims())).status_code == 200
    assert _me(signing_key.sign(_claims())).status_code == 200
    assert clerk_jwks.hits == 2


def test_unknown_kids_refresh_at_most_once_per_interval(clerk_jwks: JwksServer, signing_key: KeyPair):
    assert _me(signing_key.sign(_claims())).status_code == 200
    for i in range(30):
        stranger = KeyPair(kid=f"attacker_{i}", private_key=signing_key.private_key)
        assert _me(stranger.sign(_claims())).json()["error"] == "jwk-kid-mismatch"
    assert clerk_jwks.hits == 2


def test_refresh_done_by_another_worker_is_seen_without_fetching(
    clerk_jwks: JwksServer, signing_key: KeyPair, other_key: KeyPair
):
    """Workers share the cache: a refresh stored by one is used by all, even inside the refresh gate."""
    assert _me(signing_key.sign(_claims())).status_code == 200
    clerk_jwks.document = {"keys": [signing_key.jwk, other_key.jwk]}
    source = session_key_source()
    cache.set(source.cache_key, {"raw": source.fetch(), "fetched_at": time.time()})  # "the other worker" refreshes
    cache.set(source.gate_key, 1)
    hits = clerk_jwks.hits
    assert _me(other_key.sign(_claims())).status_code == 200
    assert clerk_jwks.hits == hits


def test_publishable_key_derives_jwks_url_and_issuer(settings: Any):
    encoded = base64.b64encode(b"clerk.example.com$").decode()
    settings.CLERK = {"PUBLISHABLE_KEY": f"pk_live_{encoded}"}
    assert clerk_settings.jwks_url == "https://clerk.example.com/.well-known/jwks.json"
    assert clerk_settings.issuer == "https://clerk.example.com"


@pytest.mark.parametrize(
    "key",
    [
        "",
        "pk_test_",
        "sk_test_abc",
        "pk_test_!!!",
        "pk_test_" + base64.b64encode(b"nodollar.com").decode(),
        "pk_test_" + base64.b64encode(b"nodot$").decode(),
        "pk_prod_" + base64.b64encode(b"a.b$").decode(),
    ],
)
def test_malformed_publishable_keys_are_rejected(key: str):
    assert parse_publishable_key(key) is None


def test_secret_key_fetches_the_backend_api_jwks_with_bearer(
    settings: Any, jwks_server: JwksServer, signing_key: KeyPair
):
    api_url = jwks_server.url.rsplit("/.well-known", 1)[0]
    settings.CLERK = {"SECRET_KEY": "sk_test_backend", "API_URL": api_url, "ISSUER": ISSUER}
    assert clerk_settings.jwks_url == f"{api_url}/v1/jwks"
    assert _me(signing_key.sign(_claims())).status_code == 200
    assert jwks_server.requests[0]["Authorization"] == "Bearer sk_test_backend"


def test_pem_key_verifies_without_any_network(settings: Any, signing_key: KeyPair):
    settings.CLERK = {"JWT_KEY": signing_key.public_pem, "ISSUER": ISSUER}
    assert _me(signing_key.sign(_claims())).status_code == 200


def test_no_key_configured_refuses_every_token(settings: Any, signing_key: KeyPair):
    settings.CLERK = {"DEV_ISSUER": False}
    response = _me(signing_key.sign(_claims()))
    assert response.status_code == 401
    assert response.json()["error"] == "jwk-failed-to-resolve"
