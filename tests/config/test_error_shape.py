"""One error shape over real HTTP with DEBUG off: `{"error": code, "message": sentence}` for every 4xx/5xx on the
API paths (unknown routes, wrong methods on DRF and plain Django views, bad JSON, signed out); the admin and a
browser asking for HTML elsewhere keep HTML pages."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from config.messages import SIGN_IN_REQUIRED


def shape(response: httpx.Response) -> tuple[int, str]:
    assert response.headers["content-type"].startswith("application/json"), (response.status_code, response.text)
    body = response.json()
    assert set(body) >= {"error", "message"} and isinstance(body["message"], str) and body["message"].endswith(".")
    return response.status_code, body["error"]


@pytest.fixture
def url(settings: Any, live_server_url: str) -> str:
    assert settings.DEBUG is False
    return live_server_url


@pytest.mark.parametrize("path", ["/api/nope", "/v1/nope", "/nope", "/api/threads/x/y/z/w", "/healthz/extra"])
def test_unknown_routes_are_json_404s(url: str, path: str) -> None:
    assert shape(httpx.get(url + path, timeout=20)) == (404, "not_found")


def test_a_browser_off_the_api_paths_keeps_html(url: str) -> None:
    page = httpx.get(f"{url}/nope", headers={"Accept": "text/html,*/*;q=0.8"}, timeout=20)
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    admin = httpx.get(f"{url}/admin/nope/", timeout=20, follow_redirects=True)
    assert admin.headers["content-type"].startswith("text/html")
    api = httpx.get(f"{url}/api/nope", headers={"Accept": "text/html"}, timeout=20)
    assert shape(api) == (404, "not_found")


def test_dev_session_with_the_issuer_off_is_a_json_404(url: str, settings: Any) -> None:
    settings.CLERK = {"DEV_ISSUER": False}
    assert shape(httpx.post(f"{url}/dev/session", json={"user": "u"}, timeout=20)) == (404, "not_found")


def test_methods_not_allowed_are_json_405s_with_allow(url: str, make_token: Any) -> None:
    plain = httpx.get(f"{url}/dev/session", timeout=20)  # a plain Django view's HttpResponseNotAllowed
    assert shape(plain) == (405, "method_not_allowed") and plain.headers["allow"] == "POST"
    assert "POST" in plain.json()["message"]
    assert shape(httpx.request("TRACE", f"{url}/healthz", timeout=20)) == (405, "method_not_allowed")
    signed_in = {"Authorization": f"Bearer {make_token('user_405')}"}
    assert shape(httpx.put(f"{url}/api/threads", headers=signed_in, timeout=20)) == (405, "method_not_allowed")
    # An unsafe method on a plain view that is not CSRF-exempt: Django's CSRF page becomes JSON too.
    assert shape(httpx.post(f"{url}/healthz", timeout=20)) == (403, "forbidden")
    assert shape(httpx.get(f"{url}/api/chat", timeout=20)) == (405, "method_not_allowed")


def test_bad_json_is_invalid_json(url: str, make_token: Any) -> None:
    headers = {"Authorization": f"Bearer {make_token('user_err')}", "Content-Type": "application/json"}
    assert shape(httpx.post(f"{url}/api/threads", content=b"{nope", headers=headers, timeout=20)) == (
        400,
        "invalid_json",
    )


def test_one_signed_out_message_on_the_api_face(url: str) -> None:
    threads = httpx.get(f"{url}/api/threads", timeout=20)
    chat = httpx.post(f"{url}/api/chat", json={}, timeout=20)
    title = httpx.post(f"{url}/api/threads/thr_x/title", timeout=20)
    for response in (threads, chat, title):
        assert shape(response) == (401, "unauthorized")
        assert response.json()["message"] == SIGN_IN_REQUIRED
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_a_server_error_on_an_api_path_is_json_and_html_for_a_browser_elsewhere() -> None:
    from django.test import RequestFactory

    from config.errors import handler500

    api = handler500(RequestFactory().get("/api/threads"))
    assert api.status_code == 500 and api["Content-Type"] == "application/json"
    assert api.content.startswith(b'{"error": "server_error"')
    page = handler500(RequestFactory().get("/somewhere", HTTP_ACCEPT="text/html"))
    assert page.status_code == 500 and page["Content-Type"].startswith("text/html")
