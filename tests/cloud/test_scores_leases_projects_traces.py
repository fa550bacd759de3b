"""Scores and feedback (one per user and target), run leases, the API-key-only project listing, and traces."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db
TRACE = "0af7651916cd43dd8448eb211c80319c"


@pytest.fixture
def alice(ws_client: Any) -> APIClient:
    return ws_client("user_alice", org="org_1")


@pytest.fixture
def bob(ws_client: Any) -> APIClient:
    return ws_client("user_bob", org="org_1")


@pytest.fixture
def thread_id(alice: APIClient) -> str:
    return alice.post("/v1/threads", {"last_message_at": "2026-01-01T00:00:00.000Z"}, format="json").json()["thread_id"]


def message(client: APIClient, thread_id: str, **extra: Any) -> Any:
    body = {"parent_id": None, "format": "aui/v0", "content": {"role": "assistant", "content": []}, **extra}
    return client.post(f"/v1/threads/{thread_id}/messages", body, format="json")


def test_a_repeated_score_updates_the_one_row(alice: APIClient, thread_id: str) -> None:
    from threads.models import Score

    mid = message(alice, thread_id).json()["message_id"]
    body = {"name": "q", "data_type": "numeric", "value": 1, "thread_id": thread_id, "message_id": mid}
    first = alice.post("/v1/scores", body, format="json").json()
    second = alice.post("/v1/scores", {**body, "value": 2.5}, format="json").json()
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
def test_bad_scores_are_400(alice: APIClient, thread_id: str, body: dict[str, Any]) -> None:
    response = alice.post("/v1/scores", {"thread_id": thread_id, **body}, format="json")
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


def test_scores_and_feedback_on_another_workspaces_thread_are_404(
    alice: APIClient, bob: APIClient, thread_id: str
) -> None:
    mid = message(alice, thread_id).json()["message_id"]
    body = {"name": "q", "data_type": "numeric", "value": 1, "thread_id": thread_id, "message_id": mid}
    assert bob.post("/v1/scores", body, format="json").status_code == 404
    assert (
        bob.post(f"/v1/threads/{thread_id}/messages/{mid}/feedback", {"type": "positive"}, format="json").status_code
        == 404
    )


def test_feedback_is_one_per_user_and_message(alice: APIClient, thread_id: str) -> None:
    from threads.models import MessageFeedback

    mid = message(alice, thread_id).json()["message_id"]
    url = f"/v1/threads/{thread_id}/messages/{mid}/feedback"
    a = alice.post(url, {"type": "positive"}, format="json").json()
    b = alice.post(url, {"type": "negative", "comment": "no"}, format="json").json()
    assert a["feedback_id"] == b["feedback_id"] and b == {**b, "type": "negative", "comment": "no"}
    row = MessageFeedback.unscoped_for_operators.get()
    assert (row.type, row.user_id) == ("negative", "user_alice")


def test_run_lease_lifecycle(alice: APIClient, bob: APIClient, thread_id: str) -> None:
    created = message(alice, thread_id, external_id="m-run", open_run=True)
    assert created.status_code == 201
    lease = created.json()["lease_id"]
    assert created.json()["heartbeat_interval_ms"] == 10_000
    other = message(alice, thread_id).json()["message_id"]
    content = {"content": {"role": "assistant", "content": [{"type": "text", "text": "x"}]}, "lease_id": lease}
    assert alice.put(f"/v1/threads/{thread_id}/messages/m-run", content, format="json").status_code == 204
    mismatch = alice.put(f"/v1/threads/{thread_id}/messages/{other}", content, format="json")
    assert mismatch.status_code == 409 and mismatch.json()["error"] == "lease_mismatch"
    assert bob.post(f"/v1/threads/{thread_id}/runs/{lease}/heartbeat").status_code == 404
    listed = alice.get(f"/v1/threads/{thread_id}/messages").json()["messages"]
    runs = {m["id"]: m.get("run") for m in listed}
    assert runs[other] is None and runs["m-run"]["status"] == "running"
    # A new lease on the same message ends the old one.
    again = message(alice, thread_id, external_id="m-run", open_run=True).json()["lease_id"]
    old = alice.post(f"/v1/threads/{thread_id}/runs/{lease}/heartbeat")
    assert old.status_code == 409 and old.json()["error"] == "run_ended"
    assert (
        alice.post(f"/v1/threads/{thread_id}/runs/{again}/end", {"reason": "cancelled"}, format="json").status_code
        == 204
    )
    assert alice.post(f"/v1/threads/{thread_id}/runs/{again}/end", {}, format="json").status_code == 204
    assert alice.post(f"/v1/threads/{thread_id}/runs/{again}/end", {"reason": "bad"}, format="json").status_code == 400
    assert alice.post(f"/v1/threads/{thread_id}/runs/{again}/pause").status_code == 404
    ended = alice.put(f"/v1/threads/{thread_id}/messages/m-run", {**content, "lease_id": again}, format="json")
    assert ended.status_code == 409 and ended.json()["error"] == "run_ended"
    listed = alice.get(f"/v1/threads/{thread_id}/messages").json()["messages"]
    assert next(m for m in listed if m["id"] == "m-run")["run"]["status"] == "ended"


def test_project_listing_is_for_api_keys_only(api_key: tuple[Any, str], alice: APIClient, thread_id: str) -> None:
    from chatauth.caller import Workspace
    from threads import services

    services.thread_create(workspace=Workspace("user_zed", "org_9"), title="elsewhere")
    _, raw = api_key
    server = APIClient()
    server.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}", HTTP_AUI_USER_ID="user_k", HTTP_AUI_WORKSPACE_ID="p:user_k")
    listed = server.get("/v1/projects/threads").json()["threads"]
    assert {t["title"] for t in listed} >= {"elsewhere"} and thread_id in {t["id"] for t in listed}
    message(alice, thread_id)
    assert len(server.get(f"/v1/projects/threads/{thread_id}/messages").json()["messages"]) == 1
    refused = alice.get("/v1/projects/threads")
    assert refused.status_code == 403 and refused.json()["error"] == "permission_denied"
    assert alice.get(f"/v1/projects/threads/{thread_id}/messages").status_code == 403
    assert APIClient().get("/v1/projects/threads").status_code == 401


def _otlp(trace_id: str = TRACE, n: int = 2) -> dict[str, Any]:
    spans = [
        {"traceId": trace_id, "spanId": f"{i:016x}", "name": "ai.generateText", "attributes": [], "kind": 1}
        for i in range(n)
    ]
    return {
        "resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"scope": {"name": "ai"}, "spans": spans}]}]
    }


def test_traces_are_stored_linked_to_the_thread_and_bounded(alice: APIClient, thread_id: str, settings: Any) -> None:
    from threads.models import TraceBatch

    response = alice.post("/v1/traces", _otlp(), format="json")
    assert response.status_code == 200 and response.json() == {"partialSuccess": {}}
    assert (
        alice.post(
            "/v1/runs", {"thread_id": thread_id, "status": "completed", "trace_id": TRACE}, format="json"
        ).status_code
        == 201
    )
    assert TraceBatch.unscoped_for_operators.get().thread_id == thread_id
    alice.post("/v1/traces", _otlp(), format="json")
    assert TraceBatch.unscoped_for_operators.filter(thread_id=thread_id).count() == 2
    settings.CLOUD_TRACES = {"MAX_PER_WORKSPACE": 2, "MAX_SPANS_PER_EXPORT": 3}
    alice.post("/v1/traces", _otlp("1" * 32), format="json")
    assert TraceBatch.unscoped_for_operators.count() == 2
    assert alice.post("/v1/traces", _otlp(n=4), format="json").status_code == 413
    proto = alice.generic("POST", "/v1/traces", b"\x0a\x00", content_type="application/x-protobuf")
    assert proto.status_code == 415 and proto.json()["error"] == "unsupported_media_type"
    assert alice.post("/v1/traces", [1], format="json").status_code == 400
