"""The /v1 API: exact wire shapes, workspace scoping (foreign = 404), JSON errors, titles and run reports."""

from __future__ import annotations

import re
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from rest_framework.test import APIClient

from chatauth.caller import Workspace
from threads import services
from threads.models import MessageFeedback, RunReport, Thread

pytestmark = pytest.mark.django_db

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
THREAD_KEYS = {
    "id",
    "project_id",
    "workspace_id",
    "title",
    "last_message_at",
    "created_at",
    "updated_at",
    "is_archived",
    "external_id",
    "metadata",
}
MESSAGE_KEYS = {"id", "parent_id", "height", "created_at", "updated_at", "format", "content", "external_id"}


def user_message(text: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"type": "text", "text": text}], "metadata": {}}


def read_stream(response: Any) -> str:
    async def collect() -> bytes:
        return b"".join([chunk async for chunk in response.streaming_content])

    return async_to_sync(collect)().decode()


@pytest.fixture
def thread_id(alice_ws: APIClient) -> str:
    return alice_ws.post("/v1/threads", {"last_message_at": "2026-01-02T03:04:05.678Z"}, format="json").json()[
        "thread_id"
    ]


def append(client: APIClient, thread_id: str, parent: str | None, text: str, **extra: Any) -> Any:
    body = {"parent_id": parent, "format": "aui/v0", "content": user_message(text), **extra}
    return client.post(f"/v1/threads/{thread_id}/messages", body, format="json")


def test_thread_has_exactly_the_client_shape(alice_ws: APIClient, thread_id: str) -> None:
    thread = alice_ws.get(f"/v1/threads/{thread_id}").json()["thread"]
    assert set(thread) == THREAD_KEYS
    assert thread["title"] is None and thread["external_id"] is None and thread["metadata"] == {}
    assert thread["last_message_at"] == "2026-01-02T03:04:05.678Z"
    assert all(TIMESTAMP.match(thread[k]) for k in ("created_at", "updated_at"))
    assert thread["workspace_id"] == "org_1:user_alice" and thread["project_id"] == "default"


def test_v1_threads_are_the_same_rows_as_the_core_services(alice_ws: APIClient) -> None:
    core = services.thread_create(workspace=Workspace("user_alice", "org_1"), title="from /api/threads")
    ids = [t["id"] for t in alice_ws.get("/v1/threads").json()["threads"]]
    assert core.id in ids


def test_update_renames_archives_and_clears_metadata(alice_ws: APIClient, thread_id: str) -> None:
    alice_ws.put(f"/v1/threads/{thread_id}", {"metadata": {"a": 1}}, format="json")
    response = alice_ws.put(
        f"/v1/threads/{thread_id}", {"title": "T", "is_archived": True, "metadata": None}, format="json"
    )
    assert response.status_code == 204
    thread = alice_ws.get(f"/v1/threads/{thread_id}").json()["thread"]
    assert (thread["title"], thread["is_archived"], thread["metadata"]) == ("T", True, {})


def test_list_separates_active_and_archived(alice_ws: APIClient, thread_id: str) -> None:
    other = alice_ws.post("/v1/threads", {}, format="json").json()["thread_id"]
    alice_ws.put(f"/v1/threads/{other}", {"is_archived": True}, format="json")
    assert [t["id"] for t in alice_ws.get("/v1/threads").json()["threads"]] == [thread_id]
    assert [t["id"] for t in alice_ws.get("/v1/threads?is_archived=true").json()["threads"]] == [other]


def test_list_pages_newest_first_with_after(alice_ws: APIClient) -> None:
    ids = [
        alice_ws.post("/v1/threads", {"last_message_at": f"2026-01-0{d}T00:00:00.000Z"}, format="json").json()[
            "thread_id"
        ]
        for d in (1, 2, 3)
    ]
    first = alice_ws.get("/v1/threads?limit=2").json()["threads"]
    rest = alice_ws.get(f"/v1/threads?limit=2&after={first[-1]['id']}").json()["threads"]
    assert [t["id"] for t in first + rest] == ids[::-1]


def test_create_with_external_id_upserts_and_otherwise_conflicts(alice_ws: APIClient) -> None:
    first = alice_ws.post("/v1/threads", {"external_id": "x1", "title": "a"}, format="json").json()["thread_id"]
    conflict = alice_ws.post("/v1/threads", {"external_id": "x1"}, format="json")
    assert conflict.status_code == 409 and conflict.json()["error"] == "conflict"
    again = alice_ws.post("/v1/threads", {"external_id": "x1", "upsert": True, "title": "b"}, format="json")
    assert again.json()["thread_id"] == first
    assert alice_ws.get(f"/v1/threads/{first}").json()["thread"]["title"] == "b"


def test_delete_removes_thread_and_messages(alice_ws: APIClient, thread_id: str) -> None:
    append(alice_ws, thread_id, None, "hi")
    assert alice_ws.delete(f"/v1/threads/{thread_id}").status_code == 204
    assert alice_ws.get(f"/v1/threads/{thread_id}").status_code == 404
    assert not Thread.unscoped_for_operators.filter(id=thread_id).exists()


def test_messages_list_newest_first_with_exact_shape(alice_ws: APIClient, thread_id: str) -> None:
    root = append(alice_ws, thread_id, None, "one").json()["message_id"]
    child = append(alice_ws, thread_id, root, "two").json()["message_id"]
    messages = alice_ws.get(f"/v1/threads/{thread_id}/messages").json()["messages"]
    assert [m["id"] for m in messages] == [child, root]
    assert set(messages[0]) == MESSAGE_KEYS
    assert (messages[0]["parent_id"], messages[0]["height"], messages[1]["parent_id"]) == (root, 1, None)
    assert all(TIMESTAMP.match(m["created_at"]) for m in messages)


def test_message_list_filters_by_format_and_pages(alice_ws: APIClient, thread_id: str) -> None:
    parent = None
    for i in range(3):
        parent = append(alice_ws, thread_id, parent, f"m{i}").json()["message_id"]
    alice_ws.post(
        f"/v1/threads/{thread_id}/messages",
        {"parent_id": None, "format": "ai-sdk/v6", "content": {"role": "user", "parts": []}},
        format="json",
    )
    page = alice_ws.get(f"/v1/threads/{thread_id}/messages?format=aui/v0&limit=2").json()["messages"]
    rest = alice_ws.get(f"/v1/threads/{thread_id}/messages?format=aui/v0&limit=2&after={page[-1]['id']}").json()
    assert [m["height"] for m in page + rest["messages"]] == [2, 1, 0]


def test_external_id_becomes_the_message_id_and_append_is_idempotent(alice_ws: APIClient, thread_id: str) -> None:
    first = append(alice_ws, thread_id, None, "hi", external_id="local-1")
    again = append(alice_ws, thread_id, None, "hi", external_id="local-1")
    assert first.status_code == 201 and again.status_code == 200
    assert first.json() == again.json() == {"message_id": "local-1"}
    child = alice_ws.post(
        f"/v1/threads/{thread_id}/messages",
        {"parent_external_id": "local-1", "format": "aui/v0", "content": user_message("x")},
        format="json",
    )
    assert child.status_code == 201


def test_a_user_message_bumps_last_message_at(alice_ws: APIClient, thread_id: str) -> None:
    append(alice_ws, thread_id, None, "hi")
    assert alice_ws.get(f"/v1/threads/{thread_id}").json()["thread"]["last_message_at"] > "2026-01-02T03:04:05.678Z"


def test_message_update_and_bulk_delete(alice_ws: APIClient, thread_id: str) -> None:
    mid = append(alice_ws, thread_id, None, "draft").json()["message_id"]
    assert (
        alice_ws.put(
            f"/v1/threads/{thread_id}/messages/{mid}", {"content": user_message("final")}, format="json"
        ).status_code
        == 204
    )
    content = alice_ws.get(f"/v1/threads/{thread_id}/messages").json()["messages"][0]["content"]
    assert content["content"][0]["text"] == "final"
    assert (
        alice_ws.delete(f"/v1/threads/{thread_id}/messages", {"message_ids": [mid]}, format="json").status_code == 204
    )
    assert alice_ws.get(f"/v1/threads/{thread_id}/messages").json()["messages"] == []


def test_feedback_is_stored(alice_ws: APIClient, thread_id: str) -> None:
    mid = append(alice_ws, thread_id, None, "hi").json()["message_id"]
    body = alice_ws.post(
        f"/v1/threads/{thread_id}/messages/{mid}/feedback", {"type": "negative", "comment": "meh"}, format="json"
    ).json()
    assert body["type"] == "negative" and body["comment"] == "meh"
    assert MessageFeedback.unscoped_for_operators.get(pk=int(body["feedback_id"])).message.message_id == mid


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"parent_id": None, "format": "aui/v0"}, "content"),
        ({"parent_id": None, "content": {}}, "format"),
        ({"parent_id": "nope", "format": "aui/v0", "content": {}}, "parent_id"),
        ({"parent_id": None, "format": "aui/v0", "content": {}, "open_run": "yes"}, "open_run"),
        ({"parent_id": None, "format": "aui/v0", "content": {}, "surprise": 1}, "surprise"),
        ({"parent_id": None, "format": "aui/v0", "content": []}, "content"),
    ],
)
def test_bad_message_bodies_are_400_json(alice_ws: APIClient, thread_id: str, body: Any, fragment: str) -> None:
    response = alice_ws.post(f"/v1/threads/{thread_id}/messages", body, format="json")
    assert response.status_code == 400 and fragment in response.json()["message"]
    assert alice_ws.get(f"/v1/threads/{thread_id}/messages").json()["messages"] == []


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"last_message_at": "yesterday"}, "last_message_at"),
        ({"metadata": [1]}, "metadata"),
        ({"title": 5}, "title"),
        ({"upsert": True}, "upsert"),
    ],
)
def test_bad_thread_bodies_are_400_json(alice_ws: APIClient, body: Any, fragment: str) -> None:
    response = alice_ws.post("/v1/threads", body, format="json")
    assert response.status_code == 400 and fragment in response.json()["message"]
    assert response.json()["error"] == "invalid_request"


def test_invalid_json_is_400(alice_ws: APIClient) -> None:
    response = alice_ws.post("/v1/threads", "{nope", content_type="application/json")
    assert response.status_code == 400 and response.json()["error"] == "invalid_json"


def test_bad_list_parameters_are_400(alice_ws: APIClient) -> None:
    assert alice_ws.get("/v1/threads?limit=0").status_code == 400
    assert alice_ws.get("/v1/threads?is_archived=maybe").status_code == 400


FOREIGN_CALLS = [
    ("get", "/v1/threads/{t}", None),
    ("put", "/v1/threads/{t}", {"title": "stolen"}),
    ("delete", "/v1/threads/{t}", None),
    ("get", "/v1/threads/{t}/messages", None),
    ("post", "/v1/threads/{t}/messages", {"parent_id": None, "format": "aui/v0", "content": {}}),
    ("delete", "/v1/threads/{t}/messages", {"message_ids": ["{m}"]}),
    ("put", "/v1/threads/{t}/messages/{m}", {"content": {}}),
    ("post", "/v1/threads/{t}/messages/{m}/feedback", {"type": "positive"}),
    ("post", "/v1/runs/stream", {"thread_id": "{t}", "assistant_id": "system/thread_title", "messages": []}),
    ("post", "/v1/runs", {"thread_id": "{t}", "status": "completed"}),
]


@pytest.mark.parametrize(("method", "path", "body"), FOREIGN_CALLS)
@pytest.mark.parametrize("intruder", [("user_bob", "org_1"), ("user_alice", None), ("user_alice", "org_2")])
def test_another_workspace_gets_404_and_changes_nothing(
    ws_client: Any, alice_ws: APIClient, thread_id: str, method: str, path: str, body: Any, intruder: tuple[str, Any]
) -> None:
    mid = append(alice_ws, thread_id, None, "private").json()["message_id"]
    fill = lambda s: s.replace("{t}", thread_id).replace("{m}", mid)  # noqa: E731
    payload = {
        k: ([fill(x) for x in v] if isinstance(v, list) else fill(v) if isinstance(v, str) else v)
        for k, v in (body or {}).items()
    }
    response = getattr(ws_client(*intruder), method)(fill(path), payload or None, format="json")
    assert response.status_code == 404 and response.json()["error"] == "not_found"
    thread = alice_ws.get(f"/v1/threads/{thread_id}").json()["thread"]
    assert thread["title"] is None
    assert len(alice_ws.get(f"/v1/threads/{thread_id}/messages").json()["messages"]) == 1
    assert not RunReport.unscoped_for_operators.exists() and not MessageFeedback.unscoped_for_operators.exists()


@pytest.mark.parametrize(
    "authorization",
    ["Bearer not-a-jwt", "Bearer a.b.c", "Basic dXNlcjpwYXNz", "Bearer aui_sk_unknown", "Bearer "],
)
def test_bad_credentials_are_401_json(cloud: Any, authorization: str) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=authorization)
    response = client.get("/v1/threads")
    assert response.status_code == 401
    assert set(response.json()) >= {"error", "message"} and response["WWW-Authenticate"].startswith("Bearer")


def test_no_credentials_is_401_json(cloud: Any) -> None:
    response = APIClient().get("/v1/threads")
    assert response.status_code == 401 and response.json()["error"] == "unauthorized"


def test_expired_workspace_token_is_401(cloud: Any) -> None:
    import time

    from chatauth.cloud.tokens import mint

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {mint(Workspace('user_1'), now=time.time() - 400)}")
    response = client.get("/v1/threads")
    assert response.status_code == 401 and response.json()["error"] == "token-expired"


def test_title_run_streams_text_and_saves_the_title(alice_ws: APIClient, thread_id: str) -> None:
    body = {
        "thread_id": thread_id,
        "assistant_id": "system/thread_title",
        "messages": [user_message("Hi! Can you explain how **vector databases** work? Thanks")],
    }
    response = alice_ws.post("/v1/runs/stream", body, format="json", HTTP_ACCEPT="text/plain")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    assert read_stream(response) == "Explain how vector databases work"
    assert alice_ws.get(f"/v1/threads/{thread_id}").json()["thread"]["title"] == "Explain how vector databases work"


def test_title_run_falls_back_to_stored_messages(alice_ws: APIClient, thread_id: str) -> None:
    append(alice_ws, thread_id, None, "compare rust and go for cli tools")
    body = {"thread_id": thread_id, "assistant_id": "system/thread_title", "messages": []}
    assert read_stream(alice_ws.post("/v1/runs/stream", body, format="json")) == "Compare rust and go for cli tools"


def test_other_assistants_are_refused(alice_ws: APIClient, thread_id: str) -> None:
    body = {"thread_id": thread_id, "assistant_id": "my/assistant", "messages": []}
    response = alice_ws.post("/v1/runs/stream", body, format="json", HTTP_ACCEPT="text/plain")
    assert response.status_code == 400 and response.json()["error"] == "unsupported_assistant"


def test_run_report_is_kept(alice_ws: APIClient, thread_id: str) -> None:
    body = {
        "thread_id": thread_id,
        "status": "error",
        "model_id": "m",
        "input_tokens": 3,
        "output_tokens": 4,
        "duration_ms": 5,
        "error": "boom",
        "tool_calls": [{"tool_name": "t"}],
    }
    run_id = alice_ws.post("/v1/runs", body, format="json").json()["run_id"]
    report = RunReport.unscoped_for_operators.get(id=run_id)
    assert (report.status, report.input_tokens, report.payload["error"]) == ("error", 3, "boom")


def test_run_report_with_bad_counts_is_400(alice_ws: APIClient, thread_id: str) -> None:
    response = alice_ws.post(
        "/v1/runs", {"thread_id": thread_id, "status": "completed", "input_tokens": -1}, format="json"
    )
    assert response.status_code == 400 and not RunReport.unscoped_for_operators.exists()


def test_unknown_run_leases_are_404(alice_ws: APIClient, thread_id: str) -> None:
    response = alice_ws.post(f"/v1/threads/{thread_id}/runs/lease_1/heartbeat")
    assert response.status_code == 404 and response.json()["error"] == "not_found"


def test_events_are_acknowledged(alice_ws: APIClient) -> None:
    response = alice_ws.post("/v1/events", {"events": [{"kind": "message_sent"}]}, format="json")
    assert response.status_code == 202 and response.json() == {"accepted": 1}


def test_unknown_v1_path_is_json_404(alice_ws: APIClient) -> None:
    response = alice_ws.post("/v1/files/no-such-endpoint", {}, format="json")
    assert response.status_code == 404 and response.json()["error"] == "not_found"


def test_backend_token_endpoint_returns_raw_token_for_clerk_session(client_for: Any, cloud: Any) -> None:
    from chatauth.cloud.tokens import verify

    response = client_for("user_clerk", org="org_c").post("/api/assistant-ui-token")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    assert verify(response.content.decode()).workspace.key == "org_c:user_clerk"


def test_backend_token_endpoint_needs_a_clerk_session(cloud: Any, ws_client: Any) -> None:
    assert APIClient().post("/api/assistant-ui-token").status_code == 401
    response = ws_client("user_1").post("/api/assistant-ui-token")  # a workspace token is not a session
    assert response.status_code == 401 and response.json()["error"]
