"""What an attacker found on /v1, each now refused at its root in the shared layer (issue: hardening)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from chatauth.caller import Workspace
from threads import services
from threads.models import Message, Thread

pytestmark = pytest.mark.django_db

UNREADABLE_TIMESTAMPS = ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "1899-12-31T23:59:59Z"]
UNSTORABLE = ["nul\x00byte", "lone \ud800 surrogate"]


@pytest.fixture
def personal_ws(ws_client: Any) -> APIClient:
    return ws_client("user_alice")


@pytest.fixture
def thread_id(personal_ws: APIClient) -> str:
    return personal_ws.post("/v1/threads", {"title": "t"}, format="json").json()["thread_id"]


@pytest.mark.parametrize("when", UNREADABLE_TIMESTAMPS)
def test_a_timestamp_python_cannot_read_back_is_refused_and_the_lists_keep_working(personal_ws, thread_id, when):
    response = personal_ws.put(f"/v1/threads/{thread_id}", {"last_message_at": when}, format="json")
    assert response.status_code == 400 and "last_message_at" in response.json()["message"]
    create = personal_ws.post("/v1/threads", {"last_message_at": when}, format="json")
    assert create.status_code == 400
    assert personal_ws.get("/v1/threads").status_code == 200
    assert len(Thread.objects.for_workspace(Workspace("user_alice"))) == 1


def test_a_timestamp_inside_the_range_is_stored_in_utc(personal_ws, thread_id):
    response = personal_ws.put(
        f"/v1/threads/{thread_id}", {"last_message_at": "2030-06-01T12:00:00+02:00"}, format="json"
    )
    assert response.status_code == 204
    assert personal_ws.get(f"/v1/threads/{thread_id}").json()["thread"]["last_message_at"] == "2030-06-01T10:00:00.000Z"


def test_message_content_over_the_shared_limit_is_refused(personal_ws, thread_id, settings):
    settings.THREADS = {"MAX_CONTENT_BYTES": 1000}
    body = {"parent_id": None, "format": "aui/v0", "content": {"text": "x" * 2000}}
    response = personal_ws.post(f"/v1/threads/{thread_id}/messages", body, format="json")
    assert response.status_code == 400 and "THREADS_MAX_CONTENT_BYTES" in response.json()["message"]
    assert not Message.objects.for_workspace(Workspace("user_alice")).exists()


def test_thread_metadata_over_the_shared_limit_is_refused(personal_ws, settings):
    settings.THREADS = {"MAX_METADATA_BYTES": 100}
    response = personal_ws.post("/v1/threads", {"metadata": {"k": "v" * 200}}, format="json")
    assert response.status_code == 400 and "THREADS_MAX_METADATA_BYTES" in response.json()["message"]


def test_a_body_over_the_shared_limit_is_413(personal_ws, settings):
    settings.THREADS = {"MAX_BODY_BYTES": 1000, "MAX_CONTENT_BYTES": 1000}
    response = personal_ws.post("/v1/threads", {"title": "x" * 2000}, format="json")
    assert response.status_code == 413 and response.json()["error"] == "payload_too_large"


@pytest.mark.parametrize("text", UNSTORABLE)
@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/threads", lambda t: {"title": t}),
        ("/v1/threads", lambda t: {"external_id": t}),
        ("/v1/threads", lambda t: {"metadata": {t: 1}}),
        ("/v1/threads/{tid}/messages", lambda t: {"parent_id": None, "format": "aui/v0", "content": {"x": [t]}}),
        ("/v1/threads/{tid}/messages", lambda t: {"parent_id": None, "format": t, "content": {}}),
        ("/v1/runs", lambda t: {"thread_id": "{tid}", "status": "completed", "model_id": t}),
        ("/v1/runs", lambda t: {"thread_id": "{tid}", "status": "completed", "extra": {"deep": t}}),
    ],
)
def test_unstorable_text_in_any_field_is_a_400_and_nothing_is_written(personal_ws, thread_id, path, body, text):
    payload = body(text)
    if payload.get("thread_id") == "{tid}":
        payload["thread_id"] = thread_id
    # json.dumps escapes a lone surrogate as \ud800, as a browser's JSON.stringify does.
    response = personal_ws.post(path.format(tid=thread_id), json.dumps(payload), content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "invalid_request"
    assert Thread.objects.for_workspace(Workspace("user_alice")).count() == 1
    assert not Message.objects.for_workspace(Workspace("user_alice")).exists()


@pytest.mark.parametrize("path", ["/v1/threads", "/v1/auth/tokens/refresh", "/v1/threads/claim"])
def test_deeply_nested_json_is_refused_before_parsing(personal_ws, path):
    deep = "[" * 5000 + "]" * 5000
    response = personal_ws.post(path, deep, content_type="application/json")
    assert response.status_code == 400 and response.json()["error"] == "invalid_json"
    assert "nests deeper" in response.json()["message"]


def test_deep_json_on_the_unauthenticated_refresh_endpoint_is_a_400():
    response = APIClient().post("/v1/auth/tokens/refresh", "{" * 5000, content_type="application/json")
    assert response.status_code in (400, 404)  # 404 when anonymous mode is off; never a 500
    assert "error" in response.json()


@pytest.mark.parametrize("suffix", ["%00", "x%00y/messages", "{tid}%00"])
def test_nul_in_an_url_id_is_a_404(personal_ws, thread_id, suffix):
    response = personal_ws.get("/v1/threads/" + suffix.format(tid=thread_id))
    assert response.status_code == 404 and response.json()["error"] == "not_found"


def test_messages_are_listed_a_bounded_page_at_a_time(personal_ws, thread_id, settings):
    settings.THREADS = {"MESSAGE_PAGE_SIZE": 3}
    parent = None
    for i in range(5):
        body = {"parent_id": parent, "format": "aui/v0", "content": {"i": i}}
        parent = personal_ws.post(f"/v1/threads/{thread_id}/messages", body, format="json").json()["message_id"]
    assert len(personal_ws.get(f"/v1/threads/{thread_id}/messages").json()["messages"]) == 3
    assert personal_ws.get(f"/v1/threads/{thread_id}/messages?limit=4").status_code == 400


def test_a_workspace_token_cannot_reach_another_workspace_through_a_colon_in_its_ids(ws_client):
    services.thread_create(workspace=Workspace("user_y", "org_x"), title="org_x/user_y's")
    # A token naming sub="org_x:user_y" cannot be minted by us, and one forged to say so is refused.
    from chatauth.caller import InvalidWorkspaceId, check_id

    with pytest.raises(InvalidWorkspaceId):
        check_id("org_x:user_y", "sub")
    assert ws_client("user_y").get("/v1/threads").json()["threads"] == []
