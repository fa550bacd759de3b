"""The page shell, the built assets and the development sign-in, over Django's test client."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

PUBLISHABLE_KEY = "pk_test_" + base64.b64encode(b"clerk.example.test$").decode().rstrip("=")


def page_settings(response) -> dict:
    html = response.content.decode()
    start = html.index('<script id="app-settings" type="application/json">') + len(
        '<script id="app-settings" type="application/json">'
    )
    return json.loads(html[start : html.index("</script>", start)])


@pytest.fixture
def fake_build(settings, tmp_path: Path) -> Path:
    """A minimal Vite build (manifest + assets) so the shell can be tested without Node."""
    (tmp_path / ".vite").mkdir()
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "main-abc123.js").write_text("console.log('app');")
    (tmp_path / "assets" / "main-abc123.css").write_text("body{}")
    manifest = {"src/main.tsx": {"file": "assets/main-abc123.js", "css": ["assets/main-abc123.css"], "isEntry": True}}
    (tmp_path / ".vite" / "manifest.json").write_text(json.dumps(manifest))
    (tmp_path / "secret.txt").write_text("not an asset")
    settings.WEBAPP = {"DIST_DIR": str(tmp_path)}
    return tmp_path


def test_page_loads_the_built_entry_and_injects_dev_mode(fake_build, dev_issuer_on):
    response = Client().get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<script type="module" src="/app/assets/main-abc123.js"></script>' in html
    assert '<link rel="stylesheet" href="/app/assets/main-abc123.css">' in html
    assert page_settings(response) == {
        "mode": "dev",
        "publishableKey": "",
        "apiBase": "",
        "devSessionUrl": "/dev/session",
    }


def test_page_injects_the_publishable_key_in_clerk_mode(fake_build, settings):
    settings.CLERK = {"PUBLISHABLE_KEY": PUBLISHABLE_KEY, "DEV_ISSUER": True}
    response = Client().get("/")
    assert response.status_code == 200
    assert page_settings(response)["mode"] == "clerk"
    assert page_settings(response)["publishableKey"] == PUBLISHABLE_KEY


def test_page_never_injects_a_secret_key(fake_build, settings):
    settings.CLERK = {"PUBLISHABLE_KEY": PUBLISHABLE_KEY, "SECRET_KEY": "sk_test_never_in_a_page"}
    assert b"sk_test_never_in_a_page" not in Client().get("/").content


def test_page_says_how_to_build_when_the_build_is_missing(settings, tmp_path, dev_issuer_on):
    settings.WEBAPP = {"DIST_DIR": str(tmp_path / "nothing-here")}
    response = Client().get("/")
    assert response.status_code == 503
    html = response.content.decode()
    assert "The browser app has not been built" in html
    assert "make web" in html
    assert '<script type="module"' not in html


def test_page_says_sign_in_is_not_configured_without_dev_issuer_or_clerk(fake_build, settings):
    settings.CLERK = {"DEV_ISSUER": False}
    response = Client().get("/")
    assert response.status_code == 503
    assert "No browser sign-in is configured" in response.content.decode()


def test_assets_are_served_with_immutable_caching(fake_build):
    response = Client().get("/app/assets/main-abc123.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert "immutable" in response["Cache-Control"]
    assert response.content == b"console.log('app');"


@pytest.mark.parametrize("name", ["..%2Fsecret.txt", "%2E%2E", ".hidden", "missing.js", "..", "a%00.js"])
def test_assets_outside_the_build_or_missing_are_404(fake_build, name):
    assert Client().get(f"/app/assets/{name}").status_code == 404


def test_assets_refuse_other_methods(fake_build):
    assert Client().post("/app/assets/main-abc123.js").status_code == 405


# The development sign-in


def post_session(body: object, content_type: str = "application/json"):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return Client(enforce_csrf_checks=True).post("/dev/session", data=data, content_type=content_type)


def test_dev_session_is_404_when_the_dev_issuer_is_off(settings):
    settings.CLERK = {"DEV_ISSUER": False}
    response = post_session({"user": "user_a"})
    assert response.status_code == 404
    assert b"token" not in response.content


@pytest.mark.parametrize("method", ["get", "put", "delete", "options"])
def test_dev_session_is_404_for_every_method_when_the_dev_issuer_is_off(settings, method):
    settings.CLERK = {"DEV_ISSUER": False}
    assert getattr(Client(), method)("/dev/session").status_code == 404


def test_dev_session_is_404_once_a_clerk_key_is_configured(settings):
    settings.CLERK = {"DEV_ISSUER": True, "PUBLISHABLE_KEY": PUBLISHABLE_KEY}
    assert post_session({"user": "user_a"}).status_code == 404


def test_dev_session_token_signs_in_the_chosen_user_and_org(dev_issuer_on):
    response = post_session({"user": "user_a", "org": "org_x"})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["user_id"] == "user_a" and body["org_id"] == "org_x"
    me = Client().get("/api/me", HTTP_AUTHORIZATION=f"Bearer {body['token']}")
    assert me.status_code == 200
    assert me.json()["workspace"] == "org_x:user_a"


def test_dev_session_without_org_is_the_personal_workspace(dev_issuer_on):
    token = post_session({"user": "user_a"}).json()["token"]
    me = Client().get("/api/me", HTTP_AUTHORIZATION=f"Bearer {token}").json()
    assert me["org_id"] is None and me["workspace"] == "user_a"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"user": ""},
        {"user": "a b"},
        {"user": "x" * 65},
        {"user": 7},
        {"user": "user_a", "org": "bad org"},
        {"user": "user_a", "org": 1},
        {"user": "user_a", "role": "owner"},
        {"user": "user_a", "admin": True},
        ["user_a"],
    ],
)
def test_dev_session_rejects_bad_input_with_a_json_400(dev_issuer_on, body):
    response = post_session(body)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert response.json()["message"]


def test_dev_session_rejects_malformed_json(dev_issuer_on):
    response = post_session("{not json")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_dev_session_needs_a_json_body(dev_issuer_on):
    response = post_session("user=user_a", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"


def test_dev_session_refuses_get(dev_issuer_on):
    assert Client().get("/dev/session").status_code == 405


def test_every_thread_address_serves_the_app(fake_build, dev_issuer_on):
    response = Client().get("/chat/thr_abc-DEF_123")
    assert response.status_code == 200
    assert '<script type="module" src="/app/assets/main-abc123.js"></script>' in response.content.decode()
    assert page_settings(response)["mode"] == "dev"


@pytest.mark.parametrize("path", ["/chat/", "/chat/a/b", "/chat/bad%20id", "/chat/" + "x" * 129])
def test_malformed_thread_addresses_are_404(fake_build, dev_issuer_on, path):
    assert Client().get(path).status_code == 404
