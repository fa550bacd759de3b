"""`/readyz` tells the truth about `/api/chat`: with DEBUG off, no `OPENAI_API_KEY` and the development model off,
it is a 503 naming `OPENAI_API_KEY` (over real HTTP, as a load balancer asks). Start-up does not refuse (so an
operator can reach `/readyz` and the admin to see why); readiness keeps the worker out of rotation instead."""

from __future__ import annotations

from typing import Any

import httpx


def test_no_model_provider_is_not_ready_and_names_the_setting(
    settings: Any, dev_issuer_on: None, live_server_url: str
) -> None:
    assert settings.DEBUG is False
    settings.CHAT = {"OPENAI_API_KEY": "", "DEV_MODEL": False}
    response = httpx.get(f"{live_server_url}/readyz", timeout=20)
    assert response.status_code == 503
    model = response.json()["checks"]["model"]
    assert model["ok"] is False and "OPENAI_API_KEY" in model["detail"]
    assert all(check["ok"] for name, check in response.json()["checks"].items() if name != "model")


def test_a_provider_key_or_the_explicit_development_model_is_ready(
    settings: Any, dev_issuer_on: None, live_server_url: str
) -> None:
    settings.CHAT = {"OPENAI_API_KEY": "sk-test-placeholder", "DEV_MODEL": False}
    ready = httpx.get(f"{live_server_url}/readyz", timeout=20)
    assert ready.status_code == 200 and ready.json()["checks"]["model"]["detail"] == "openai-compatible provider"
    settings.CHAT = {"OPENAI_API_KEY": "", "DEV_MODEL": True}
    ready = httpx.get(f"{live_server_url}/readyz", timeout=20)
    assert ready.status_code == 200 and ready.json()["checks"]["model"]["detail"] == "development model"


def test_resumable_chat_needs_its_redis(settings: Any, dev_issuer_on: None, live_server_url: str) -> None:
    settings.CHAT = {"DEV_MODEL": True, "RESUMABLE": True, "REDIS_URL": "redis://127.0.0.1:1/0"}
    down = httpx.get(f"{live_server_url}/readyz", timeout=20)
    assert down.status_code == 503 and down.json()["checks"]["chat_redis"]["ok"] is False
    settings.CHAT = {"DEV_MODEL": True, "RESUMABLE": False}
    ready = httpx.get(f"{live_server_url}/readyz", timeout=20)
    assert ready.status_code == 200 and "chat_redis" not in ready.json()["checks"]
