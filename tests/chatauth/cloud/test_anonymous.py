"""Anonymous mode: off by default; refresh tokens rotate, are stored hashed, and fail on reuse and after claim."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from chatauth.cloud.anonymous import _hash
from chatauth.cloud.tokens import verify
from chatauth.models import RefreshToken

pytestmark = pytest.mark.django_db


def anonymous_session() -> dict[str, Any]:
    response = APIClient().post("/v1/auth/tokens/anonymous")
    assert response.status_code == 200
    return response.json()


def refresh(token: str) -> Any:
    return APIClient().post("/v1/auth/tokens/refresh", {"refresh_token": token}, format="json")


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_anonymous_mode_is_off_unless_turned_on(settings: Any) -> None:
    settings.CLOUD = {}
    response = APIClient().post("/v1/auth/tokens/anonymous")
    assert response.status_code == 404 and response.json()["error"] == "anonymous_disabled"


def test_anonymous_tokens_stop_working_when_the_mode_is_turned_off(cloud: Any, settings: Any) -> None:
    access = anonymous_session()["access_token"]
    settings.CLOUD = {**cloud, "ANONYMOUS_ENABLED": False}
    assert bearer(access).get("/v1/threads").json()["error"] == "anonymous-disabled"


def test_anonymous_session_has_its_own_workspace_and_a_30_day_refresh_token(cloud: Any) -> None:
    body = anonymous_session()
    claims = verify(body["access_token"])
    assert claims.anonymous and claims.workspace.user_id.startswith("anon_")
    row = RefreshToken.objects.get()
    assert row.token_hash == _hash(body["refresh_token"]["token"]) and body["refresh_token"]["token"] != row.token_hash
    assert abs((row.expires_at - row.created_at).total_seconds() - 30 * 86400) < 5
    assert body["refresh_token"]["expires_at"].endswith("Z")


def test_refresh_rotates_the_refresh_token(cloud: Any) -> None:
    first = anonymous_session()
    response = refresh(first["refresh_token"]["token"])
    assert response.status_code == 200
    second = response.json()
    assert second["refresh_token"]["token"] != first["refresh_token"]["token"]
    assert verify(second["access_token"]).workspace == verify(first["access_token"]).workspace


def test_reusing_a_spent_refresh_token_fails_and_revokes_the_family(cloud: Any) -> None:
    first = anonymous_session()["refresh_token"]["token"]
    second = refresh(first).json()["refresh_token"]["token"]
    reused = refresh(first)
    assert reused.status_code == 401 and reused.json()["error"] == "invalid_refresh_token"
    assert refresh(second).status_code == 401  # the thief and the owner both have to start over


def test_unknown_refresh_token_is_401(cloud: Any) -> None:
    assert refresh("aui_rt_" + "x" * 43).status_code == 401
    assert refresh("not-a-token").status_code == 401


def test_claim_moves_threads_and_the_token_cannot_be_used_again(cloud: Any, ws_client: Any) -> None:
    session = anonymous_session()
    anon = bearer(session["access_token"])
    thread_id = anon.post("/v1/threads", {"title": "before sign-in"}, format="json").json()["thread_id"]
    anon.post(
        f"/v1/threads/{thread_id}/messages",
        {"parent_id": None, "format": "aui/v0", "content": {"role": "user", "content": []}},
        format="json",
    )
    user = ws_client("user_signed_in")
    raw = session["refresh_token"]["token"]

    claimed = user.post("/v1/threads/claim", {"refresh_token": raw}, format="json")
    assert claimed.status_code == 200 and claimed.json() == {"moved": 1}
    thread = user.get(f"/v1/threads/{thread_id}").json()["thread"]
    assert thread["workspace_id"] == "user_signed_in"
    assert len(user.get(f"/v1/threads/{thread_id}/messages").json()["messages"]) == 1
    assert anon.get(f"/v1/threads/{thread_id}").status_code == 401  # the anonymous token died with the claim

    assert refresh(raw).status_code == 401
    again = user.post("/v1/threads/claim", {"refresh_token": raw}, format="json")
    assert again.status_code == 401 and again.json()["error"] == "invalid_refresh_token"


def test_rotated_token_of_a_claimed_identity_is_refused(cloud: Any, ws_client: Any) -> None:
    first = anonymous_session()["refresh_token"]["token"]
    second = refresh(first).json()["refresh_token"]["token"]
    assert ws_client("user_1").post("/v1/threads/claim", {"refresh_token": second}, format="json").status_code == 200
    assert refresh(second).status_code == 401


def test_claim_keeps_external_ids_unique_in_the_target(cloud: Any, ws_client: Any) -> None:
    session = anonymous_session()
    bearer(session["access_token"]).post("/v1/threads", {"external_id": "same"}, format="json")
    user = ws_client("user_1")
    user.post("/v1/threads", {"external_id": "same"}, format="json")
    body = user.post("/v1/threads/claim", {"refresh_token": session["refresh_token"]["token"]}, format="json")
    assert body.json() == {"moved": 1}
    assert sorted(str(t["external_id"]) for t in user.get("/v1/threads").json()["threads"]) == ["None", "same"]


def test_anonymous_caller_cannot_claim(cloud: Any) -> None:
    one, two = anonymous_session(), anonymous_session()
    response = bearer(one["access_token"]).post(
        "/v1/threads/claim", {"refresh_token": two["refresh_token"]["token"]}, format="json"
    )
    assert response.status_code == 403


def test_access_token_of_a_claimed_identity_stops_working(cloud: Any, ws_client: Any) -> None:
    session = anonymous_session()
    anon = bearer(session["access_token"])
    assert anon.get("/v1/threads").status_code == 200
    ws_client("user_1").post("/v1/threads/claim", {"refresh_token": session["refresh_token"]["token"]}, format="json")
    response = anon.post("/v1/threads", {}, format="json")
    assert response.status_code == 401 and response.json()["error"] == "anonymous-identity-claimed"
