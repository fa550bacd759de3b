"""The admin shows attachments, scores, feedback, run leases and traces (per thread, by search)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

from tests.support.admin import change_url

pytestmark = pytest.mark.django_db
TRACE = "0af7651916cd43dd8448eb211c80319c"


def test_admin_lists_the_new_models(ws_client: Any) -> None:
    alice: APIClient = ws_client("user_alice", org="org_1")
    tid = alice.post("/v1/threads", {"last_message_at": "2026-01-01T00:00:00.000Z"}, format="json").json()["thread_id"]
    body = {"parent_id": None, "format": "aui/v0", "content": {"role": "assistant", "content": []}, "open_run": True}
    mid = alice.post(f"/v1/threads/{tid}/messages", body, format="json").json()["message_id"]
    alice.post("/v1/scores", {"name": "q", "data_type": "numeric", "value": 1, "thread_id": tid}, format="json")
    alice.post(f"/v1/threads/{tid}/messages/{mid}/feedback", {"type": "positive"}, format="json")
    alice.post("/v1/files/attachments/generate-presigned-upload-url", {"filename": "a.png"}, format="json")
    alice.post("/v1/runs", {"thread_id": tid, "status": "completed", "trace_id": TRACE}, format="json")
    spans = [{"traceId": TRACE, "spanId": "00f067aa0ba902b7", "name": "ai.streamText"}]
    alice.post("/v1/traces", {"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}, format="json")

    get_user_model().objects.create_superuser("op", "op@example.test", "pw-for-tests")
    staff = Client()
    staff.force_login(get_user_model().objects.get(username="op"))
    for name in ("attachment", "score", "runlease", "tracebatch", "messagefeedback"):
        response = staff.get(f"/admin/threads/{name}/")
        assert response.status_code == 200, name
    traces = staff.get(f"/admin/threads/tracebatch/?q={tid}")
    assert b"ai.streamText" in traces.content
    from threads.models import TraceBatch

    detail = staff.get(change_url(TraceBatch.unscoped_for_operators.get()))
    assert detail.status_code == 200 and b"00f067aa0ba902b7" in detail.content
