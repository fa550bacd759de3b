"""/v1 runs: the leases a message's `open_run` opens, the title run, run reports and engagement events.

Same face as `threads.cloud.views` (its `CloudView` base: workspace-token/API-key/provider/anonymous callers,
the thread resolved in the caller's workspace so another workspace's id is a 404).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

from django.db import transaction
from django.http import StreamingHttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from config.errors import ApiError
from threads import openapi as o
from threads import services
from threads.cloud import leases
from threads.cloud.serializers import EventsBody, RunEndBody, RunReportBody, RunStreamBody
from threads.cloud.traces import link_run_report
from threads.cloud.views import CloudView, no_content
from threads.models import RunReport
from threads.titles import FALLBACK_TITLE, first_user_text, title_chunks, title_from_text

TITLE_ASSISTANT = "system/thread_title"


class RunLeaseView(CloudView):
    """`POST /v1/threads/<id>/runs/<lease>/heartbeat` -> `{heartbeat_interval_ms}`; `.../end {reason?}` -> 204."""

    @extend_schema(
        operation_id="v1_runs_lease",
        summary="Run lease heartbeat or end (leases are opened with a message's `open_run`)",
        request=None,
        responses=o.errors(401, 404),
    )
    def post(self, request: Request, thread_id: str, lease_id: str, action: str) -> Response:
        if action not in ("heartbeat", "end"):
            raise ApiError("not_found", "No such endpoint.", status.HTTP_404_NOT_FOUND)
        body = self.body(RunEndBody) if action == "end" else {}
        thread = self.thread(thread_id)
        if action == "heartbeat":
            leases.heartbeat(thread=thread, lease_id=lease_id)
            return Response({"heartbeat_interval_ms": leases.lease_settings.HEARTBEAT_INTERVAL_MS})
        leases.end(thread=thread, lease_id=lease_id, reason=body.get("reason") or "done")
        return no_content()


async def _stream(chunks: tuple[str, ...]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk.encode()


class RunStreamView(CloudView):
    """`POST /v1/runs/stream` for `system/thread_title`: a heuristic title, saved, then streamed as text."""

    @extend_schema(
        operation_id="v1_runs_stream",
        summary="Title a thread (assistant_id system/thread_title)",
        request=RunStreamBody,
        responses={(200, "text/plain"): o.TITLE_STREAM, **o.errors(400, 401, 404)},
    )
    def post(self, request: Request) -> StreamingHttpResponse:
        body = self.body(RunStreamBody)
        if body["assistant_id"] != TITLE_ASSISTANT:
            raise ApiError("unsupported_assistant", f"Only assistant_id {TITLE_ASSISTANT!r} runs on this server.")
        with transaction.atomic():
            thread = self.thread(body["thread_id"], for_update=True)
            text = first_user_text(body.get("messages") or [])
            if not text:
                stored = services.first_user_message(thread=thread)
                text = first_user_text([stored.content]) if stored else ""
            title = title_from_text(text) if text else FALLBACK_TITLE
            services.thread_update(thread=thread, title=title)
        response = StreamingHttpResponse(_stream(title_chunks(title)), content_type="text/plain; charset=utf-8")
        response["Cache-Control"] = "no-store"
        return response


class RunReportView(CloudView):
    """`POST /v1/runs`: run telemetry, kept as a `RunReport` for the admin."""

    @extend_schema(
        operation_id="v1_runs_create",
        request=RunReportBody,
        responses={201: o.CloudRunCreated, **o.errors(400, 401, 404)},
    )
    def post(self, request: Request) -> Response:
        body = self.body(RunReportBody)
        thread = self.thread(body["thread_id"])
        report = RunReport.objects.for_workspace(self.workspace).create(
            id="run_" + secrets.token_urlsafe(16),
            thread=thread,
            status=body["status"],
            model_id=body.get("model_id"),
            input_tokens=body.get("input_tokens"),
            output_tokens=body.get("output_tokens"),
            duration_ms=body.get("duration_ms"),
            payload=request.data,
        )
        link_run_report(report, self.workspace)
        return Response({"run_id": report.id}, status=status.HTTP_201_CREATED)


class EventsView(CloudView):
    """`POST /v1/events`: engagement events are acknowledged (202) but not stored by this server."""

    @extend_schema(
        operation_id="v1_events_create",
        request=EventsBody,
        responses={202: o.CloudEventsAccepted, **o.errors(400, 401)},
    )
    def post(self, request: Request) -> Response:
        events = self.body(EventsBody)["events"]
        return Response({"accepted": len(events)}, status=status.HTTP_202_ACCEPTED)
