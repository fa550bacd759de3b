"""API keys: stored hashed, prefixed, mint workspace tokens, and revocation takes effect at once."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from chatauth.cloud.apikeys import hash_key, revoke_api_key
from chatauth.cloud.tokens import verify
from chatauth.models import ApiKey
from tests.support.admin import change_url

pytestmark = pytest.mark.django_db


def key_client(raw: str, user: str = "user_1", workspace: str | None = None) -> APIClient:
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {raw}", HTTP_AUI_USER_ID=user, HTTP_AUI_WORKSPACE_ID=workspace or user
    )
    return client


def test_key_is_stored_only_as_a_hash_and_has_an_identifying_prefix(api_key: tuple[ApiKey, str]) -> None:
    key, raw = api_key
    assert raw.startswith(f"aui_sk_{key.key_id}_")
    stored = ApiKey.objects.get(pk=key.pk)
    assert stored.key_hash == hash_key(raw) and raw not in repr(stored.__dict__)


def test_api_key_mints_a_workspace_token(api_key: tuple[ApiKey, str]) -> None:
    response = key_client(api_key[1], "user_1", "org_9:user_1").post("/v1/auth/tokens")
    assert response.status_code == 200
    claims = verify(response.json()["token"])
    assert claims.workspace.key == "org_9:user_1" and claims.api_key_id == api_key[0].key_id


def test_workspace_token_cannot_mint_tokens(ws_client: Any) -> None:
    response = ws_client("user_1").post("/v1/auth/tokens")
    assert response.status_code == 403 and response.json()["error"] == "permission_denied"


def test_revocation_stops_the_key_at_once(api_key: tuple[ApiKey, str]) -> None:
    client = key_client(api_key[1])
    assert client.get("/v1/threads").status_code == 200
    revoke_api_key(api_key[0])
    response = client.get("/v1/threads")
    assert response.status_code == 401 and response.json()["error"] == "api-key-invalid"


def test_revocation_also_stops_tokens_the_key_minted(api_key: tuple[ApiKey, str]) -> None:
    token = key_client(api_key[1]).post("/v1/auth/tokens").json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert client.get("/v1/threads").status_code == 200
    revoke_api_key(api_key[0])
    assert client.get("/v1/threads").status_code == 401


def test_wrong_secret_with_a_known_key_id_is_refused(api_key: tuple[ApiKey, str]) -> None:
    raw = api_key[1]
    forged = raw[:-4] + ("AAAA" if not raw.endswith("AAAA") else "BBBB")
    response = key_client(forged).get("/v1/threads")
    assert response.status_code == 401 and response.json()["error"] == "api-key-invalid"


@pytest.mark.parametrize(
    ("user", "workspace"), [("user_1", "org_1:user_2"), ("", "user_1"), ("user 1", "user 1"), ("anon_x", "anon_x")]
)
def test_workspace_headers_must_name_the_user(api_key: tuple[ApiKey, str], user: str, workspace: str) -> None:
    response = key_client(api_key[1], user, workspace).get("/v1/threads")
    assert response.status_code == 401 and response.json()["error"] == "workspace-invalid"


def test_key_sees_only_the_workspace_named_in_headers(api_key: tuple[ApiKey, str]) -> None:
    thread_id = key_client(api_key[1], "user_1").post("/v1/threads", {}, format="json").json()["thread_id"]
    assert key_client(api_key[1], "user_2").get(f"/v1/threads/{thread_id}").status_code == 404
    assert key_client(api_key[1], "user_1").get(f"/v1/threads/{thread_id}").status_code == 200


def test_manage_py_create_list_revoke(cloud: Any) -> None:
    out = StringIO()
    call_command("apikeys", "create", "--name", "backend", stdout=out, stderr=StringIO())
    raw = out.getvalue().strip()
    assert key_client(raw).get("/v1/threads").status_code == 200
    listing = StringIO()
    call_command("apikeys", "list", stdout=listing)
    assert "backend" in listing.getvalue() and raw not in listing.getvalue()
    call_command("apikeys", "revoke", raw.rsplit("_", 1)[0], stdout=StringIO())
    assert key_client(raw).get("/v1/threads").status_code == 401


def test_admin_shows_a_new_key_once(admin_client: Any, cloud: Any) -> None:
    response = admin_client.post("/admin/chatauth/apikey/add/", {"name": "from admin"})
    assert response.status_code == 200
    key = ApiKey.objects.get(name="from admin")
    body = response.content.decode()
    start = body.index("aui_sk_")
    raw = body[start : body.index('"', start)]
    assert raw.startswith(key.display_prefix) and key.key_hash == hash_key(raw)
    change_page = admin_client.get(change_url(key))
    assert change_page.status_code == 200 and key.display_prefix in change_page.content.decode()
    assert raw not in change_page.content.decode()


def test_admin_revoke_action_takes_effect_at_once(admin_client: Any, api_key: tuple[ApiKey, str]) -> None:
    key, raw = api_key
    response = admin_client.post(
        "/admin/chatauth/apikey/", {"action": "revoke", "_selected_action": [key.pk]}, follow=True
    )
    assert response.status_code == 200
    assert key_client(raw).get("/v1/threads").status_code == 401


def test_admin_refuses_an_auth_rule_with_a_plain_http_jwks(admin_client: Any, cloud: Any) -> None:
    from chatauth.models import AuthRule

    form = {
        "name": "x",
        "provider": "clerk",
        "issuer": "https://i.example",
        "jwks_url": "http://i.example/jwks",
        "audience": "assistant-ui",
        "user_id_claim": "sub",
        "org_id_claim": "",
        "enabled": "on",
    }
    response = admin_client.post("/admin/chatauth/authrule/add/", form)
    assert response.status_code == 200 and not AuthRule.objects.exists()
    admin_client.post("/admin/chatauth/authrule/add/", {**form, "jwks_url": "https://i.example/jwks"})
    assert AuthRule.objects.get().issuer == "https://i.example"
