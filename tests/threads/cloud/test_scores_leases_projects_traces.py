"""Scores and feedback (one per user and target), run leases, the API-key-only project listing, and traces."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db
TRACE = "0af7651916cd43dd8448eb211c80319c"


@pytest.fixture
def thread_id(alice_ws: APIClient) -> str:
    return alice_ws.post("/v1/threads", {"last_message_at": "2026-01-01T00:00:00.000Z"}, format="json").json()[
        "thread_id"
    ]


def message(client: APIClient, thread_id: str, **extra: Any) -> Any:
    body = {"parent_id": None, "format": "aui/v0", "content": {"role": "assistant", "content": []}, **extra}
    return client.post(f"/v1/threads/{thread_id}/messages", body, format="json")


def test_a_repeated_score_updates_the_one_row(alice_ws: APIClient, thread_id: str) -> None:
    from threads.models import Score

    mid = message(alice_ws, thread_id).json()["message_id"]
    body = {"name": "q", "data_type": "numeric", "value": 1, "thread_id": thread_id, "message_id": mid}
    first = alice_ws.post("/v1/scores", body, format="json").json()
    second = alice_ws.post("/v1/scores", {**body, "value": 2.5}, format="json").json()
    assert first["score_id"] == second["score_id"] and second["value"] == 2.5 and second["string_value"] is None
    assert Score.unscoped_for_operators.count() == 1


@pytest.mark.parametrize(
    "body",
    [
        {"name": "q", "data_type": "numeric", "value": "1"},
        {"name": "q", "data_type": "numeric", "value": True},
        {"name": "q", "data_type": "boolean", "value": 1},
        {"name": "q", "data_type": "categorical"},
        {"name": "q", "data_type": "stars", "value": 1},
        {"data_type": "numeric", "value": 1},
        {"name": "q", "data_type": "numeric", "value": 1, "surprise": 1},
    ],
)
def test_bad_scores_are_400(alice_ws: APIClient, thread_id: str, body: dict[str, Any]) -> None:
    response = alice_ws.post("/v1/scores", {"thread_id": thread_id, **body}, format="json")
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


def test_scores_and_feedback_on_another_workspaces_thread_are_404(
    alice_ws: APIClient, bob_ws: APIClient, thread_id: str
) -> None:
    mid = message(alice_ws, thread_id).json()["message_id"]
    body = {"name": "q", "data_type": "numeric", "value": 1, "thread_id": thread_id, "message_id": mid}
    assert bob_ws.post("/v1/scores", body, format="json").status_code == 404
    assert (
        bob_ws.post(f"/v1/threads/{thread_id}/messages/{mid}/feedback", {"type": "positive"}, format="json").status_code
        == 404
    )


def test_feedback_is_one_per_user_and_message(alice_ws: APIClient, thread_id: str) -> None:
    from threads.models import MessageFeedback

    mid = message(alice_ws, thread_id).json()["message_id"]
    url = f"/v1/threads/{thread_id}/messages/{mid}/feedback"
    a = alice_ws.post(url, {"type": "positive"}, format="json").json()
    b = alice_ws.post(url, {"type": "negative", "comment": "no"}, format="json").json()
    assert a["feedback_id"] == b["feedback_id"] and b == {**b, "type": "negative", "comment": "no"}
    row = MessageFeedback.unscoped_for_operators.get()
    assert (row.type, row.user_id) == ("negative", "user_alice")


def test_run_lease_lifecycle(alice_ws: APIClient, bob_ws: APIClient, thread_id: str) -> None:
    created = message(alice_ws, thread_id, external_id="m-run", open_run=True)
    assert created.status_code == 201
    lease = created.json()["lease_id"]
    assert created.json()["heartbeat_interval_ms"] == 10_000
    other = message(alice_ws, thread_id).json()["message_id"]
    content = {"content": {"role": "assistant", "content": [{"type": "text", "text": "x"}]}, "lease_id": lease}
    assert alice_ws.put(f"/v1/threads/{thread_id}/messages/m-run", content, format="json").status_code == 204
    mismatch = alice_ws.put(f"/v1/threads/{thread_id}/messages/{other}", content, format="json")
    assert mismatch.status_code == 409 and mismatch.json()["error"] == "lease_mismatch"
    assert bob_ws.post(f"/v1/threads/{thread_id}/runs/{lease}/heartbeat").status_code == 404
    listed = alice_ws.get(f"/v1/threads/{thread_id}/messages").json()["messages"]
    runs = {m["id"]: m.get("run") for m in listed}
    assert runs[other] is None and runs["m-run"]["status"] == "running"
    # A new lease on the same message ends the old one.
    again = message(alice_ws, thread_id, external_id="m-run", open_run=True).json()["lease_id"]
    old = alice_ws.post(f"/v1/threads/{thread_id}/runs/{lease}/heartbeat")
    assert old.status_code == 409 and old.json()["error"] == "run_ended"
    assert (
        alice_ws.post(f"/v1/threads/{thread_id}/runs/{again}/end", {"reason": "cancelled"}, format="json").status_code
        == 204
    )
    assert alice_ws.post(f"/v1/threads/{thread_id}/runs/{again}/end", {}, format="json").status_code == 204
    assert (
        alice_ws.post(f"/v1/threads/{thread_id}/runs/{again}/end", {"reason": "bad"}, format="json").status_code == 400
    )
    assert alice_ws.post(f"/v1/threads/{thread_id}/runs/{again}/pause").status_code == 404
    ended = alice_ws.put(f"/v1/threads/{thread_id}/messages/m-run", {**content, "lease_id": again}, format="json")
    assert ended.status_code == 409 and ended.json()["error"] == "run_ended"
    listed = alice_ws.get(f"/v1/threads/{thread_id}/messages").json()["messages"]
    assert next(m for m in listed if m["id"] == "m-run")["run"]["status"] == "ended"


def test_project_listing_is_for_api_keys_only(api_key: tuple[Any, str], alice_ws: APIClient, thread_id: str) -> None:
    from chatauth.caller import Workspace
    from threads import services

    services.thread_create(workspace=Workspace("user_zed", "org_9"), title="elsewhere")
    _, raw = api_key
    server = APIClient()
    server.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}", HTTP_AUI_USER_ID="user_k", HTTP_AUI_WORKSPACE_ID="p:user_k")
    listed = server.get("/v1/projects/threads").json()["threads"]
    assert {t["title"] for t in listed} >= {"elsewhere"} and thread_id in {t["id"] for t in listed}
    message(alice_ws, thread_id)
    assert len(server.get(f"/v1/projects/threads/{thread_id}/messages").json()["messages"]) == 1
    refused = alice_ws.get("/v1/projects/threads")
    assert refused.status_code == 403 and refused.json()["error"] == "permission_denied"
    assert alice_ws.get(f"/v1/projects/threads/{thread_id}/messages").status_code == 403
    assert APIClient().get("/v1/projects/threads").status_code == 401


def _otlp(trace_id: str = TRACE, n: int = 2) -> dict[str, Any]:
    spans = [
        {"traceId": trace_id, "spanId": f"{i:016x}", "name": "ai.generateText", "attributes": [], "kind": 1}
        for i in range(n)
    ]
    return {
        "resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"scope": {"name": "ai"}, "spans": spans}]}]
    }


def test_traces_are_stored_linked_to_the_thread_and_bounded(alice_ws: APIClient, thread_id: str, settings: Any) -> None:
    from threads.models import TraceBatch

    response = alice_ws.post("/v1/traces", _otlp(), format="json")
    assert response.status_code == 200 and response.json() == {"partialSuccess": {}}
    assert (
        alice_ws.post(
            "/v1/runs", {"thread_id": thread_id, "status": "completed", "trace_id": TRACE}, format="json"
        ).status_code
        == 201
    )
    assert TraceBatch.unscoped_for_operators.get().thread_id == thread_id
    alice_ws.post("/v1/traces", _otlp(), format="json")
    assert TraceBatch.unscoped_for_operators.filter(thread_id=thread_id).count() == 2
    settings.CLOUD_TRACES = {"MAX_PER_WORKSPACE": 2, "MAX_SPANS_PER_EXPORT": 3}
    alice_ws.post("/v1/traces", _otlp("1" * 32), format="json")
    assert TraceBatch.unscoped_for_operators.count() == 2
    assert alice_ws.post("/v1/traces", _otlp(n=4), format="json").status_code == 413
    proto = alice_ws.generic("POST", "/v1/traces", b"\x0a\x00", content_type="application/x-protobuf")
    assert proto.status_code == 415 and proto.json()["error"] == "unsupported_media_type"
    assert alice_ws.post("/v1/traces", [1], format="json").status_code == 400
