"""/healthz (liveness) and /readyz (database, cache and session-token keys)."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.conftest import ISSUER

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _a_model(settings):
    """These tests are about the other checks: the development model stands in for a provider."""
    settings.CHAT = {"DEV_MODEL": True, "RESUMABLE": False}


def readyz():
    response = Client().get("/readyz")
    return response.status_code, response.json()


def test_healthz_answers_without_touching_anything():
    response = Client().get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})
    assert "no-cache" in response["Cache-Control"]


def test_readyz_is_ready_with_the_development_issuer(dev_issuer_on):
    status, body = readyz()
    assert status == 200
    assert body == {
        "status": "ready",
        "checks": {
            "database": {"ok": True, "detail": "ok"},
            "cache": {"ok": True, "detail": "ok"},
            "jwks": {"ok": True, "detail": "development issuer"},
            "model": {"ok": True, "detail": "development model"},
        },
    }


def test_readyz_loads_a_cold_jwks_once_and_then_reads_the_cache(clerk_jwks):
    assert readyz()[1]["checks"]["jwks"] == {"ok": True, "detail": "jwks cached"}
    assert readyz()[0] == 200
    assert clerk_jwks.hits == 1


def test_readyz_is_unavailable_while_the_jwks_cannot_be_loaded(clerk_jwks):
    clerk_jwks.status = 500
    status, body = readyz()
    assert status == 503
    assert body["status"] == "unavailable"
    assert body["checks"]["jwks"] == {"ok": False, "detail": "the JWKS could not be loaded"}
    assert body["checks"]["database"]["ok"] is True


def test_readyz_stays_ready_on_a_cached_jwks_when_the_endpoint_goes_down(clerk_jwks):
    assert readyz()[0] == 200
    clerk_jwks.status = 500
    assert readyz()[0] == 200


def test_readyz_is_ready_with_a_pem_key(settings, signing_key):
    settings.CLERK = {"JWT_KEY": signing_key.public_pem, "ISSUER": ISSUER}
    assert readyz()[1]["checks"]["jwks"] == {"ok": True, "detail": "pem key"}


def test_readyz_is_unavailable_without_any_clerk_key(settings):
    settings.CLERK = {"DEV_ISSUER": False}
    status, body = readyz()
    assert status == 503
    assert "No Clerk key configured" in body["checks"]["jwks"]["detail"]


def test_readyz_reports_an_unreachable_cache(settings, dev_issuer_on):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:9/0"}
    }
    status, body = readyz()
    assert status == 503
    assert body["checks"]["cache"]["ok"] is False
    assert body["checks"]["cache"]["detail"].startswith("unreachable")


def test_readyz_refuses_post_with_json():
    response = Client().post("/readyz")
    assert (response.status_code, response.json()["error"]) == (405, "method_not_allowed")
    assert response["Allow"] == "GET, HEAD"
