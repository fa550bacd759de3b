"""`POST /v1/traces`: the client's OTLP trace exporter (`createAssistantCloudTraceExporter`), OTLP/HTTP JSON.

The exporter sends `Authorization: Bearer <api key>`; the workspace comes from the `Aui-User-Id` and
`Aui-Workspace-Id` headers passed through its `headers` option (any /v1 credential works). Spans are grouped
by trace id, one `TraceBatch` row per trace per export, at most `CLOUD_TRACES_MAX_SPANS_PER_EXPORT` spans per
request and `CLOUD_TRACES_MAX_PER_WORKSPACE` rows per workspace (the oldest go first). The body cap is
`THREADS_MAX_BODY_BYTES`. Protobuf bodies get 415, which the OTLP exporter treats as a permanent failure:
it drops the batch and logs it, without retrying or disturbing the app.
"""

from __future__ import annotations

import re
from typing import Any

from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from chatauth.caller import Workspace
from config.appsettings import AppSettings
from config.errors import ApiError
from config.validation import json_size, storable_json
from threads import openapi as o
from threads.cloud.views import CloudView
from threads.models import RunReport, TraceBatch

trace_settings = AppSettings(
    "CLOUD_TRACES",
    {
        "MAX_SPANS_PER_EXPORT": 2000,
        "MAX_PER_WORKSPACE": 2000,
        # Largest stored span (compact JSON); bigger attributes are dropped from that span.
        "MAX_SPAN_BYTES": 16 * 1024,
    },
)
TRACE_ID = re.compile(r"^[0-9a-f]{32}$")


def _spans(body: Any) -> list[dict[str, Any]]:
    if not isinstance(body, dict) or not isinstance(body.get("resourceSpans", []), list):
        raise ApiError("invalid_request", "Expected an OTLP/JSON ExportTraceServiceRequest (resourceSpans).")
    spans: list[dict[str, Any]] = []
    for resource in body.get("resourceSpans") or []:
        scopes = resource.get("scopeSpans") if isinstance(resource, dict) else None
        for scope in scopes if isinstance(scopes, list) else []:
            items = scope.get("spans") if isinstance(scope, dict) else None
            spans.extend(s for s in (items if isinstance(items, list) else []) if isinstance(s, dict))
    if len(spans) > trace_settings.MAX_SPANS_PER_EXPORT:
        raise ApiError(
            "too_many_spans",
            f"At most {trace_settings.MAX_SPANS_PER_EXPORT} spans per export.",
            status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    return spans


def _trace_id(span: dict[str, Any]) -> str | None:
    """OTLP/JSON trace ids are hex (the JS exporter) or base64 (some SDKs); stored as lower-case hex."""
    raw = span.get("traceId")
    if not isinstance(raw, str):
        return None
    if TRACE_ID.match(raw.lower()):
        return raw.lower()
    try:
        import base64

        decoded = base64.b64decode(raw, validate=True)
    except ValueError:
        return None
    return decoded.hex() if len(decoded) == 16 else None


def _bounded(span: dict[str, Any]) -> dict[str, Any]:
    if json_size(span) <= trace_settings.MAX_SPAN_BYTES:
        return span
    keep = {
        k: span[k]
        for k in ("traceId", "spanId", "parentSpanId", "name", "kind", "startTimeUnixNano", "endTimeUnixNano", "status")
        if k in span
    }
    return {**keep, "truncated": True}


def store(*, workspace: Workspace, body: Any) -> int:
    if not storable_json(body):
        raise ApiError("invalid_request", "Strings must not contain NUL characters or unpaired surrogates.")
    by_trace: dict[str, list[dict[str, Any]]] = {}
    for span in _spans(body):
        trace_id = _trace_id(span)
        if trace_id is not None:
            by_trace.setdefault(trace_id, []).append(_bounded(span))
    if not by_trace:
        return 0
    rows = TraceBatch.objects.for_workspace(workspace)
    reports = RunReport.objects.for_workspace(workspace)
    with transaction.atomic():
        for trace_id, spans in by_trace.items():
            report = reports.filter(payload__trace_id=trace_id).only("thread_id").first()
            rows.create(
                workspace_key=workspace.key,
                trace_id=trace_id,
                thread_id=report.thread_id if report else None,
                span_count=len(spans),
                spans=spans,
            )
        excess = rows.count() - trace_settings.MAX_PER_WORKSPACE
        if excess > 0:
            oldest = list(rows.order_by("received_at", "id").values_list("id", flat=True)[:excess])
            rows.filter(id__in=oldest).delete()
    return sum(len(s) for s in by_trace.values())


def link_run_report(report: RunReport, workspace: Workspace) -> None:
    """A run report naming a trace id links the traces that arrived before it to its thread."""
    trace_id = report.payload.get("trace_id") if isinstance(report.payload, dict) else None
    if isinstance(trace_id, str) and TRACE_ID.match(trace_id):
        TraceBatch.objects.for_workspace(workspace).filter(trace_id=trace_id, thread__isnull=True).update(
            thread=report.thread
        )


class TracesView(CloudView):
    @extend_schema(
        operation_id="v1_traces_create",
        request=OpenApiTypes.OBJECT,
        responses={200: OpenApiTypes.OBJECT, **o.errors(400, 401, 413, 415)},
        description="OTLP/HTTP JSON spans (ExportTraceServiceRequest); protobuf bodies are 415.",
    )
    def post(self, request: Request) -> Response:
        kind = (request.content_type or "").split(";")[0].strip().lower()
        if kind != "application/json":
            raise ApiError(
                "unsupported_media_type",
                "Send OTLP/HTTP JSON (Content-Type: application/json); protobuf is not accepted.",
                status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            )
        store(workspace=self.workspace, body=request.data)
        # OTLP/HTTP success: an ExportTraceServiceResponse; an empty `partialSuccess` means all accepted.
        return Response({"partialSuccess": {}})
