"""CORS for front ends on another origin, over real HTTP: `/api/chat`, `/api/threads` and `/v1/threads`.

One origins list (`CORS_ALLOWED_ORIGINS`) for both faces; credentials only on `/api` for Clerk authorized parties;
a refused origin gets a JSON 403 to its preflight and no CORS headers on its requests.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from config.origins import normalize_origin, origin_in

APP = "http://front.example.test:5173"
PARTY = "https://cookie-app.example.test"
EVIL = "https://evil.example.test"
KEY = {"kid": "cors-key", "secret": "c" * 24 + "-secret-for-cors-tests-only"}
HEADERS = "authorization,content-type,aui-user-id"
TEXT = {"type": "text", "text": "hi"}


@pytest.fixture
def faces(settings: Any, make_token: Callable[..., str], live_server_url: str) -> dict[str, Any]:
    settings.CLOUD = {"SIGNING_KEYS": [KEY], "CORS_ALLOWED_ORIGINS": [APP, PARTY + "/"]}
    settings.CLERK = {**settings.CLERK, "AUTHORIZED_PARTIES": [PARTY]}
    settings.CHAT = {"DEV_MODEL": True, "RESUMABLE": False}
    token = make_token("user_cors", azp=PARTY)
    return {"url": live_server_url, "token": token}


def preflight(url: str, path: str, origin: str, method: str = "POST") -> httpx.Response:
    return httpx.options(
        url + path,
        headers={"Origin": origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": HEADERS},
        timeout=20,
    )


@pytest.mark.parametrize(("path", "method"), [("/api/chat", "POST"), ("/api/threads", "GET"), ("/v1/threads", "GET")])
def test_preflight_from_an_allowed_origin_is_a_cached_204(faces: dict[str, Any], path: str, method: str) -> None:
    response = preflight(faces["url"], path, APP, method)
    assert response.status_code == 204, response.text
    assert response.headers["access-control-allow-origin"] == APP
    assert method in response.headers["access-control-allow-methods"]
    assert set(response.headers["access-control-allow-headers"].split(", ")) == set(HEADERS.split(","))
    assert int(response.headers["access-control-max-age"]) > 0
    assert "access-control-allow-credentials" not in response.headers  # APP is not a Clerk authorized party


@pytest.mark.parametrize("path", ["/api/chat", "/api/threads", "/v1/threads"])
def test_preflight_from_a_refused_origin_is_a_json_403(faces: dict[str, Any], path: str) -> None:
    response = preflight(faces["url"], path, EVIL)
    assert response.status_code == 403
    assert response.json()["error"] == "cors_origin_not_allowed"
    assert "access-control-allow-origin" not in response.headers


def test_credentials_only_for_authorized_parties_and_only_on_api(faces: dict[str, Any]) -> None:
    api = preflight(faces["url"], "/api/chat", PARTY)
    assert api.headers["access-control-allow-credentials"] == "true"
    v1 = preflight(faces["url"], "/v1/threads", PARTY)
    assert v1.status_code == 204 and "access-control-allow-credentials" not in v1.headers


def test_actual_requests_from_an_allowed_origin(faces: dict[str, Any]) -> None:
    url, bearer = faces["url"], {"Authorization": f"Bearer {faces['token']}", "Origin": APP}
    chat = httpx.post(
        f"{url}/api/chat",
        headers=bearer,
        json={"id": "thr_cors_1", "messages": [{"id": "m1", "role": "user", "parts": [TEXT]}]},
        timeout=60,
    )
    assert chat.status_code == 200, chat.text
    assert chat.headers["content-type"].startswith("text/event-stream")
    assert chat.headers["access-control-allow-origin"] == APP
    threads = httpx.get(f"{url}/api/threads", headers=bearer, timeout=20)
    assert threads.status_code == 200 and threads.headers["access-control-allow-origin"] == APP
    assert [t["id"] for t in threads.json()["threads"]] == ["thr_cors_1"]
    workspace_token = httpx.post(f"{url}/api/assistant-ui-token", headers=bearer, timeout=20)
    assert workspace_token.status_code == 200, workspace_token.text
    v1 = httpx.get(
        f"{url}/v1/threads", headers={"Authorization": f"Bearer {workspace_token.text}", "Origin": APP}, timeout=20
    )
    assert v1.status_code == 200
    assert v1.headers["access-control-allow-origin"] == APP
    assert v1.headers["access-control-expose-headers"] == "Authorization"
    assert [t["id"] for t in v1.json()["threads"]] == ["thr_cors_1"]


def test_actual_requests_from_a_refused_origin_carry_no_cors_headers(faces: dict[str, Any]) -> None:
    url, bearer = faces["url"], {"Authorization": f"Bearer {faces['token']}", "Origin": EVIL}
    for response in (
        httpx.get(f"{url}/api/threads", headers=bearer, timeout=20),
        httpx.post(f"{url}/api/chat", headers=bearer, json={}, timeout=20),
        httpx.get(f"{url}/v1/threads", headers={"Origin": EVIL}, timeout=20),
    ):
        assert "access-control-allow-origin" not in response.headers
        assert "origin" in response.headers["vary"].lower()


def test_one_origin_rule_for_cors_and_the_cookie_check() -> None:
    assert normalize_origin("HTTPS://App.Example.com:443/path?q") == "https://app.example.com"
    assert normalize_origin("http://localhost:5173") == "http://localhost:5173"
    assert (
        normalize_origin("null") == ""
        and normalize_origin("") == ""
        and normalize_origin("http://[::1]:80") == ("http://[::1]")
    )
    assert origin_in("https://app.example.com", ["https://APP.example.com/"])
    assert not origin_in("null", ["null"]) and not origin_in(
        "https://app.example.com.evil", ["https://app.example.com"]
    )


def test_the_deprecated_cloud_name_still_works(monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    from chatauth.cloud.conf import cloud_settings

    settings.CLOUD = {}
    monkeypatch.delenv("CORS_ALLOWED_ORIGINS", raising=False)
    monkeypatch.setenv("CLOUD_CORS_ALLOWED_ORIGINS", "https://old.example.test")
    cloud_settings.reload()
    assert cloud_settings.CORS_ALLOWED_ORIGINS == ["https://old.example.test"]
    monkeypatch.setenv("CORS_ALLOWED_ORIGINS", "https://new.example.test")
    cloud_settings.reload()
    assert cloud_settings.CORS_ALLOWED_ORIGINS == ["https://new.example.test"]
    monkeypatch.undo()
    cloud_settings.reload()
