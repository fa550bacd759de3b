"""The threads REST API: thin views over `threads.services`, scoped by the caller's workspace.

Every handler resolves the workspace once from the verified principal and reaches data only through
`services.thread_get(workspace=...)` or `Thread.objects.for_workspace(...)`, so another workspace's
thread or message answers exactly like a missing one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import drf_spectacular_sidecar
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework import exceptions, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from chatauth.caller import Workspace
from chatauth.drf import IsSignedIn
from config.validation import BoundedJSONParser, validated
from threads import services
from threads.api.serializers import (
    MessageCreateSerializer,
    MessageListSerializer,
    MessageSerializer,
    MessageUpdateSerializer,
    ThreadCreateSerializer,
    ThreadPageSerializer,
    ThreadSerializer,
    ThreadUpdateSerializer,
)
from threads.conf import threads_settings
from threads.models import Message, Thread
from threads.pagination import decode_cursor, encode_cursor, page_limit


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "Conflict."
    default_code = "conflict"


THREAD_NOT_FOUND = "Thread not found."
INVALID_CURSOR = "Invalid cursor: pass back a next_cursor from a previous page."
MESSAGE_NOT_FOUND = "Message not found."


class WorkspaceAPIView(APIView):
    """Signed-in callers only; `self.workspace` is the caller's, resolved once per request."""

    permission_classes = [IsSignedIn]
    parser_classes = [BoundedJSONParser]

    @property
    def max_body(self) -> tuple[int, str]:
        return threads_settings.MAX_BODY_BYTES, "THREADS_MAX_BODY_BYTES"

    @property
    def workspace(self) -> Workspace:
        return self.request.auth.workspace

    def get_thread(self, thread_id: str, *, for_update: bool = False) -> Thread:
        try:
            return services.thread_get(workspace=self.workspace, thread_id=thread_id, for_update=for_update)
        except services.NotFound as exc:
            raise exceptions.NotFound(THREAD_NOT_FOUND) from exc

    def get_message(self, thread: Thread, message_id: str) -> Message:
        try:
            return services.message_get(thread=thread, message_id=message_id)
        except services.NotFound as exc:
            raise exceptions.NotFound(MESSAGE_NOT_FOUND) from exc

    def validated(self, serializer_class: type, data: Any) -> dict[str, Any]:
        return validated(serializer_class, data)


ERRORS = {
    400: OpenApiResponse(description="Invalid request: `{error, message, details}` naming the fields."),
    401: OpenApiResponse(description="Signed out or a refused session token."),
    404: OpenApiResponse(description="No such thread (or message) in the caller's workspace."),
}


def _archived_filter(raw: str | None) -> bool | None:
    value = (raw or "false").lower()
    if value not in {"true", "false", "all"}:
        raise exceptions.ValidationError({"archived": ["Must be true, false or all."]})
    return None if value == "all" else value == "true"


class ThreadListView(WorkspaceAPIView):
    @extend_schema(
        operation_id="threads_list",
        summary="The workspace's threads, newest activity first",
        parameters=[
            OpenApiParameter("archived", str, enum=["false", "true", "all"], description="Default false."),
            OpenApiParameter("limit", int, description="Page size; at most THREADS MAX_PAGE_SIZE (else 400)."),
            OpenApiParameter("cursor", str, description="`next_cursor` of the previous page."),
        ],
        responses={200: ThreadPageSerializer, 400: ERRORS[400], 401: ERRORS[401]},
    )
    def get(self, request: Request) -> Response:
        archived = _archived_filter(request.query_params.get("archived"))
        limit = page_limit(request.query_params.get("limit"))
        cursor = request.query_params.get("cursor")
        after = decode_cursor(cursor) if cursor else None
        rows = services.thread_list(workspace=self.workspace, archived=archived, limit=limit + 1, after=after)
        page, more = rows[:limit], len(rows) > limit
        return Response(
            {
                "threads": ThreadSerializer(page, many=True).data,
                "next_cursor": encode_cursor(page[-1]) if more else None,
            }
        )

    @extend_schema(
        operation_id="threads_create",
        summary="Start a thread",
        request=ThreadCreateSerializer,
        responses={
            201: ThreadSerializer,
            400: ERRORS[400],
            401: ERRORS[401],
            409: OpenApiResponse(description="The workspace already has a thread with this external_id."),
        },
    )
    def post(self, request: Request) -> Response:
        data = self.validated(ThreadCreateSerializer, request.data)
        try:
            thread = services.thread_create(workspace=self.workspace, **data)
        except services.ExternalIdTaken as exc:
            raise Conflict(str(exc)) from exc
        return Response(ThreadSerializer(thread).data, status=status.HTTP_201_CREATED)


class ThreadDetailView(WorkspaceAPIView):
    @extend_schema(
        operation_id="threads_retrieve", responses={200: ThreadSerializer, 401: ERRORS[401], 404: ERRORS[404]}
    )
    def get(self, request: Request, thread_id: str) -> Response:
        return Response(ThreadSerializer(self.get_thread(thread_id)).data)

    @extend_schema(
        operation_id="threads_update",
        summary="Rename, archive or unarchive, replace metadata",
        request=ThreadUpdateSerializer,
        responses={200: ThreadSerializer, 400: ERRORS[400], 401: ERRORS[401], 404: ERRORS[404]},
    )
    def patch(self, request: Request, thread_id: str) -> Response:
        with transaction.atomic():
            thread = self.get_thread(thread_id, for_update=True)
            data = self.validated(ThreadUpdateSerializer, request.data)
            if data:
                services.thread_update(thread=thread, **data)
        return Response(ThreadSerializer(thread).data)

    @extend_schema(
        operation_id="threads_destroy",
        summary="Delete a thread and all its messages",
        responses={204: None, 401: ERRORS[401], 404: ERRORS[404]},
    )
    def delete(self, request: Request, thread_id: str) -> Response:
        with transaction.atomic():
            services.thread_delete(thread=self.get_thread(thread_id, for_update=True))
        return Response(status=status.HTTP_204_NO_CONTENT)


class MessageListView(WorkspaceAPIView):
    @extend_schema(
        operation_id="messages_list",
        summary="A thread's messages, parents before children, a page at a time",
        parameters=[
            OpenApiParameter("format", str, description="Only messages stored in this format."),
            OpenApiParameter("limit", int, description="Page size; default and maximum THREADS MESSAGE_PAGE_SIZE."),
            OpenApiParameter("cursor", str, description="`next_cursor` of the previous page."),
        ],
        responses={200: MessageListSerializer, 401: ERRORS[401], 404: ERRORS[404]},
    )
    def get(self, request: Request, thread_id: str) -> Response:
        thread = self.get_thread(thread_id)
        params = request.query_params
        limit = page_limit(params.get("limit"), messages=True)
        cursor = params.get("cursor") or None
        rows = services.message_page(thread=thread, limit=limit + 1, format=params.get("format") or None, after=cursor)
        if rows is None:
            raise exceptions.ValidationError(
                {"cursor": ["Invalid cursor: pass back a next_cursor from a previous page."]}
            )
        page, more = rows[:limit], len(rows) > limit
        return Response(
            {
                "messages": MessageSerializer(page, many=True).data,
                "next_cursor": page[-1].message_id if more else None,
                "head_id": getattr(services.message_head(thread=thread), "message_id", None),
            }
        )

    @extend_schema(
        operation_id="messages_create",
        summary="Append a message (idempotent on `id`)",
        request=MessageCreateSerializer,
        responses={
            201: MessageSerializer,
            200: OpenApiResponse(MessageSerializer, description="The id was already stored: the stored message."),
            400: ERRORS[400],
            401: ERRORS[401],
            404: ERRORS[404],
        },
    )
    def post(self, request: Request, thread_id: str) -> Response:
        thread = self.get_thread(thread_id)
        data = self.validated(MessageCreateSerializer, request.data)
        try:
            message, created = services.message_append(
                thread=thread,
                format=data["format"],
                content=data["content"],
                parent_id=data.get("parent_id"),
                message_id=data.get("id"),
                status=data.get("status", "complete"),
            )
        except services.InvalidParent as exc:
            raise exceptions.ValidationError({"parent_id": [str(exc)]}) from exc
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(MessageSerializer(message).data, status=code)


class MessageDetailView(WorkspaceAPIView):
    @extend_schema(
        operation_id="messages_retrieve", responses={200: MessageSerializer, 401: ERRORS[401], 404: ERRORS[404]}
    )
    def get(self, request: Request, thread_id: str, message_id: str) -> Response:
        thread = self.get_thread(thread_id)
        return Response(MessageSerializer(self.get_message(thread, message_id)).data)

    @extend_schema(
        operation_id="messages_update",
        summary="Replace content or status, or move under another parent",
        request=MessageUpdateSerializer,
        responses={200: MessageSerializer, 400: ERRORS[400], 401: ERRORS[401], 404: ERRORS[404]},
    )
    def patch(self, request: Request, thread_id: str, message_id: str) -> Response:
        thread = self.get_thread(thread_id)
        message = self.get_message(thread, message_id)
        data = self.validated(MessageUpdateSerializer, request.data)
        if data:
            changes: dict[str, Any] = {"content": data.get("content"), "status": data.get("status")}
            if "parent_id" in data:
                changes["parent_id"] = data["parent_id"]
            try:
                services.message_update(message=message, **changes)
            except services.InvalidParent as exc:
                raise exceptions.ValidationError({"parent_id": [str(exc)]}) from exc
        return Response(MessageSerializer(message).data)


# OpenAPI schema and an offline docs page


class SchemaView(SpectacularAPIView):
    """The OpenAPI 3 document; public, and indifferent to whatever token the caller sends."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]


_SWAGGER_DIST = Path(drf_spectacular_sidecar.__file__).parent / "static" / "drf_spectacular_sidecar" / "swagger-ui-dist"
_DOCS_ASSETS = {
    "swagger-ui.css": "text/css",
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui-standalone-preset.js": "text/javascript",
    "favicon-32x32.png": "image/png",
}


class DocsView(SpectacularSwaggerView):
    """Swagger UI served entirely by this service (no CDN), so the docs work offline."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    url_name = "threads:schema"

    @staticmethod
    def _swagger_ui_resource(filename: str) -> str:
        return reverse("threads:docs-asset", args=[filename])

    @staticmethod
    def _swagger_ui_favicon() -> str:
        return reverse("threads:docs-asset", args=["favicon-32x32.png"])


def docs_asset(request: HttpRequest, name: str) -> FileResponse:
    """One file of the vendored Swagger UI, from a fixed allow-list (never a path from the URL)."""
    if name not in _DOCS_ASSETS:
        raise Http404
    response = FileResponse((_SWAGGER_DIST / name).open("rb"), content_type=_DOCS_ASSETS[name])
    response["Cache-Control"] = "public, max-age=86400"
    return response
