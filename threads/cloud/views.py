"""The Assistant Cloud compatible API (/v1): a thin face over `threads.services`, scoped per workspace.

Every handler resolves its thread through `services.thread_get(workspace=...)`, so a missing id and
another workspace's id are the same 404.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpResponse, StreamingHttpResponse
from rest_framework import status
from rest_framework.exceptions import ParseError
from rest_framework.negotiation import BaseContentNegotiation, DefaultContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from chatauth.caller import Principal, Workspace
from chatauth.cloud import anonymous
from chatauth.cloud.auth import CloudAuthentication, CloudCaller, HasWorkspace, IsApiKeyCaller, IsSignedInWorkspace
from chatauth.cloud.conf import cloud_settings
from chatauth.cloud.tokens import InvalidWorkspaceId, check_id, mint
from threads import services
from threads.cloud import services as cloud_services
from threads.cloud.serializers import (
    CloudError,
    body_object,
    invalid,
    message_json,
    not_found,
    opt_bool,
    opt_count,
    opt_object,
    opt_string,
    opt_timestamp,
    query_bool,
    query_limit,
    reject_unknown,
    req_string,
    thread_json,
    timestamp,
)
from threads.cloud.titles import FALLBACK_TITLE, first_user_text, title_chunks, title_from_text
from threads.models import MessageFeedback, RunReport

logger = logging.getLogger(__name__)

THREAD_PAGE_DEFAULT, THREAD_PAGE_MAX = 20, 100
MESSAGE_PAGE_DEFAULT, MESSAGE_PAGE_MAX = 200, 200
FEEDBACK_TYPES = ("positive", "negative")
RUN_STATUSES = ("completed", "incomplete", "error")
TITLE_ASSISTANT = "system/thread_title"


class JsonAlways(BaseContentNegotiation):
    """Bodies are JSON whatever `Accept` says (the title stream sends `Accept: text/plain` and gets text)."""

    def select_parser(self, request: Request, parsers: list[Any]) -> Any:
        return DefaultContentNegotiation().select_parser(request, parsers)

    def select_renderer(self, request: Request, renderers: list[Any], format_suffix: str | None = None) -> Any:
        return renderers[0], renderers[0].media_type


class CloudView(APIView):
    authentication_classes = [CloudAuthentication]
    permission_classes = [HasWorkspace]
    content_negotiation_class = JsonAlways

    @property
    def caller(self) -> CloudCaller:
        return self.request.auth

    @property
    def workspace(self) -> Workspace:
        return self.request.auth.workspace

    def data(self) -> dict[str, Any]:
        try:
            return body_object(self.request.data)
        except ParseError as exc:
            raise CloudError("invalid_json", "The request body is not valid JSON.") from exc

    def thread(self, thread_id: str, *, for_update: bool = False) -> Any:
        try:
            return services.thread_get(workspace=self.workspace, thread_id=thread_id, for_update=for_update)
        except services.NotFound as exc:
            raise not_found() from exc

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        caller = getattr(request, "_auth", None)
        if isinstance(caller, CloudCaller) and caller.exchange_token:
            # Token exchange: the client caches this workspace token instead of the provider JWT.
            response["Authorization"] = f"Bearer {caller.exchange_token}"
        return response


def no_content() -> Response:
    return Response(status=status.HTTP_204_NO_CONTENT)


# --- tokens ---------------------------------------------------------------------------------------------------


class AssistantUiTokenView(APIView):
    """`POST /api/assistant-ui-token`: a Clerk-signed-in caller gets a workspace token as plain text."""

    content_negotiation_class = JsonAlways

    def post(self, request: Request) -> HttpResponse:
        principal: Principal = request.auth
        try:
            check_id(principal.user_id, "user id")
            if principal.org_id:
                check_id(principal.org_id, "org id")
        except InvalidWorkspaceId as exc:
            raise CloudError("workspace_invalid", str(exc)) from exc
        response = HttpResponse(mint(principal.workspace), content_type="text/plain; charset=utf-8")
        response["Cache-Control"] = "no-store"
        return response


class AuthTokensView(CloudView):
    """`POST /v1/auth/tokens` with an API key + Aui-User-Id + Aui-Workspace-Id: `{token}`."""

    permission_classes = [IsApiKeyCaller]

    def post(self, request: Request) -> Response:
        token = mint(self.workspace, api_key_id=self.caller.api_key_id)
        return Response({"token": token}, headers={"Cache-Control": "no-store"})


class AnonymousModeView(APIView):
    content_negotiation_class = JsonAlways
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if not cloud_settings.ANONYMOUS_ENABLED:
            raise CloudError("anonymous_disabled", "Anonymous mode is off.", status.HTTP_404_NOT_FOUND)

    @staticmethod
    def token_response(identity: Any, refresh: anonymous.IssuedRefreshToken) -> Response:
        body = {
            "access_token": mint(anonymous.workspace_of(identity), anonymous=True),
            "refresh_token": {"token": refresh.token, "expires_at": timestamp(refresh.expires_at)},
        }
        return Response(body, headers={"Cache-Control": "no-store"})


class AnonymousTokenView(AnonymousModeView):
    """`POST /v1/auth/tokens/anonymous`: a new anonymous identity."""

    def post(self, request: Request) -> Response:
        identity, refresh = anonymous.create_identity()
        return self.token_response(identity, refresh)


class RefreshTokenView(AnonymousModeView):
    """`POST /v1/auth/tokens/refresh {refresh_token}`: a new access token; the refresh token rotates."""

    def post(self, request: Request) -> Response:
        try:
            body = body_object(request.data)
        except ParseError as exc:
            raise CloudError("invalid_json", "The request body is not valid JSON.") from exc
        raw = req_string(body, "refresh_token", max_length=200)
        try:
            identity, refresh = anonymous.refresh(raw)
        except anonymous.RefreshTokenInvalid as exc:
            raise CloudError(
                "invalid_refresh_token", "The refresh token is invalid, expired or already used.", 401
            ) from exc
        return self.token_response(identity, refresh)


# --- threads --------------------------------------------------------------------------------------------------


class ThreadListView(CloudView):
    def get(self, request: Request) -> Response:
        threads = cloud_services.threads_page(
            workspace=self.workspace,
            archived=query_bool(request.query_params, "is_archived"),
            limit=query_limit(request.query_params, default=THREAD_PAGE_DEFAULT, maximum=THREAD_PAGE_MAX),
            after=request.query_params.get("after") or None,
        )
        return Response({"threads": [thread_json(t) for t in threads]})

    def post(self, request: Request) -> Response:
        body = self.data()
        reject_unknown(body, {"title", "last_message_at", "metadata", "external_id", "upsert"})
        title = opt_string(body, "title", max_length=500)
        last_message_at = opt_timestamp(body, "last_message_at")
        metadata = opt_object(body, "metadata")
        external_id = opt_string(body, "external_id", max_length=255)
        upsert = opt_bool(body, "upsert") or False
        if upsert and not external_id:
            raise invalid("upsert: needs an external_id.")
        if external_id:
            existing = cloud_services.thread_by_external_id(workspace=self.workspace, external_id=external_id)
            if existing is not None:
                if not upsert:
                    raise CloudError("conflict", "A thread with this external_id exists.", status.HTTP_409_CONFLICT)
                changes = {k: v for k, v in (("title", title), ("metadata", metadata)) if k in body and v is not None}
                if changes:
                    services.thread_update(thread=existing, **changes)
                return Response({"thread_id": existing.id})
        try:
            thread = services.thread_create(
                workspace=self.workspace,
                title=title,
                metadata=metadata,
                external_id=external_id,
                last_message_at=last_message_at,
            )
        except IntegrityError as exc:  # a concurrent create took the external id first
            raise CloudError("conflict", "A thread with this external_id exists.", status.HTTP_409_CONFLICT) from exc
        return Response({"thread_id": thread.id}, status=status.HTTP_201_CREATED)


class ThreadDetailView(CloudView):
    def get(self, request: Request, thread_id: str) -> Response:
        return Response({"thread": thread_json(self.thread(thread_id))})

    def put(self, request: Request, thread_id: str) -> Response:
        body = self.data()
        reject_unknown(body, {"title", "last_message_at", "metadata", "is_archived"})
        changes: dict[str, Any] = {}
        if "title" in body:
            changes["title"] = opt_string(body, "title", max_length=500)
        if body.get("last_message_at") is not None:
            changes["last_message_at"] = opt_timestamp(body, "last_message_at")
        if "metadata" in body:
            changes["metadata"] = opt_object(body, "metadata") or {}
        if body.get("is_archived") is not None:
            changes["is_archived"] = opt_bool(body, "is_archived")
        with transaction.atomic():
            thread = self.thread(thread_id, for_update=True)
            if changes:
                services.thread_update(thread=thread, **changes)
        return no_content()

    def delete(self, request: Request, thread_id: str) -> Response:
        services.thread_delete(thread=self.thread(thread_id))
        return no_content()


class ThreadClaimView(CloudView):
    """`POST /v1/threads/claim {refresh_token}`: move an anonymous identity's threads here."""

    permission_classes = [IsSignedInWorkspace]

    def post(self, request: Request) -> Response:
        raw = req_string(self.data(), "refresh_token", max_length=200)
        try:
            with transaction.atomic():
                identity = anonymous.begin_claim(raw, claimed_by=self.workspace.key)
                moved = cloud_services.threads_move(source=anonymous.workspace_of(identity), target=self.workspace)
        except anonymous.RefreshTokenInvalid as exc:
            anonymous.revoke_after_reuse(exc)
            raise CloudError(
                "invalid_refresh_token", "The refresh token is invalid, expired or already used.", 401
            ) from exc
        return Response({"moved": moved})


# --- messages -------------------------------------------------------------------------------------------------


class MessageListView(CloudView):
    def get(self, request: Request, thread_id: str) -> Response:
        thread = self.thread(thread_id)
        messages = cloud_services.messages_page(
            thread=thread,
            format=request.query_params.get("format") or None,
            limit=query_limit(request.query_params, default=MESSAGE_PAGE_DEFAULT, maximum=MESSAGE_PAGE_MAX),
            after=request.query_params.get("after") or None,
        )
        return Response({"messages": [message_json(m) for m in messages]})

    def post(self, request: Request, thread_id: str) -> Response:
        body = self.data()
        if "open_run" in body or "lease_id" in body:
            # The client retries without the lease when a server does not support run leases.
            raise invalid("Run leases (open_run, lease_id) are not supported by this server.")
        reject_unknown(body, {"parent_id", "parent_external_id", "format", "content", "external_id"})
        fmt = req_string(body, "format", max_length=64)
        content = opt_object(body, "content")
        if content is None:
            raise invalid("content: required, a JSON object.")
        parent = opt_string(body, "parent_id", max_length=255) or opt_string(body, "parent_external_id", max_length=255)
        external_id = opt_string(body, "external_id", max_length=255)
        # A client id short enough becomes the message id: retries are idempotent and both faces share ids.
        message_id = external_id if external_id and len(external_id) <= 128 else None
        thread = self.thread(thread_id)
        try:
            message, created = services.message_append(
                thread=thread, format=fmt, content=content, parent_id=parent, message_id=message_id
            )
        except services.InvalidParent as exc:
            raise CloudError("invalid_parent", "parent_id is not a message of this thread.") from exc
        return Response({"message_id": message.message_id}, status=201 if created else 200)

    def delete(self, request: Request, thread_id: str) -> Response:
        body = self.data()
        ids = body.get("message_ids")
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids) or len(ids) > 1000:
            raise invalid("message_ids: required, a list of at most 1000 message ids.")
        cloud_services.messages_delete(thread=self.thread(thread_id), message_ids=ids)
        return no_content()


class MessageDetailView(CloudView):
    def put(self, request: Request, thread_id: str, message_id: str) -> Response:
        body = self.data()
        if "lease_id" in body:
            raise CloudError("lease_mismatch", "This server grants no run leases.", status.HTTP_409_CONFLICT)
        reject_unknown(body, {"content"})
        content = opt_object(body, "content")
        if content is None:
            raise invalid("content: required, a JSON object.")
        thread = self.thread(thread_id)
        try:
            message = services.message_get(thread=thread, message_id=message_id)
        except services.NotFound as exc:
            raise not_found("Message") from exc
        services.message_update(message=message, content=content)
        return no_content()


class MessageFeedbackView(CloudView):
    def post(self, request: Request, thread_id: str, message_id: str) -> Response:
        body = self.data()
        reject_unknown(body, {"type", "comment"})
        kind = body.get("type")
        if kind not in FEEDBACK_TYPES:
            raise invalid("type: must be 'positive' or 'negative'.")
        comment = opt_string(body, "comment", max_length=5000)
        thread = self.thread(thread_id)
        try:
            message = services.message_get(thread=thread, message_id=message_id)
        except services.NotFound as exc:
            raise not_found("Message") from exc
        feedback = MessageFeedback.objects.create(message=message, type=kind, comment=comment or None)
        return Response({"feedback_id": str(feedback.pk), "type": kind, "comment": feedback.comment})


class RunLeaseView(CloudView):
    """Heartbeat/end of run leases: this server grants none, so every lease is unknown (404)."""

    def post(self, request: Request, thread_id: str, lease_id: str, action: str) -> Response:
        self.thread(thread_id)
        raise not_found("Run lease")


# --- runs -----------------------------------------------------------------------------------------------------


async def _stream(chunks: tuple[str, ...]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk.encode()


class RunStreamView(CloudView):
    """`POST /v1/runs/stream` for `system/thread_title`: a heuristic title, saved, then streamed as text."""

    def post(self, request: Request) -> StreamingHttpResponse:
        body = self.data()
        thread_id = req_string(body, "thread_id", max_length=255)
        assistant_id = body.get("assistant_id")
        if assistant_id != TITLE_ASSISTANT:
            raise CloudError(
                "unsupported_assistant", f"Only assistant_id {TITLE_ASSISTANT!r} runs on this server.", 400
            )
        messages = body.get("messages", [])
        if not isinstance(messages, list):
            raise invalid("messages: must be a list.")
        with transaction.atomic():
            thread = self.thread(thread_id, for_update=True)
            text = first_user_text(messages)
            if not text:
                stored = services.messages_in_tree_order(thread=thread)
                text = first_user_text(m.content for m in stored)
            title = title_from_text(text) if text else FALLBACK_TITLE
            services.thread_update(thread=thread, title=title)
        response = StreamingHttpResponse(_stream(title_chunks(title)), content_type="text/plain; charset=utf-8")
        response["Cache-Control"] = "no-store"
        return response


class RunReportView(CloudView):
    """`POST /v1/runs`: run telemetry, kept as a `RunReport` for the admin."""

    def post(self, request: Request) -> Response:
        body = self.data()
        thread_id = req_string(body, "thread_id", max_length=255)
        run_status = body.get("status")
        if run_status not in RUN_STATUSES:
            raise invalid(f"status: must be one of {', '.join(RUN_STATUSES)}.")
        model_id = opt_string(body, "model_id", max_length=200)
        counts = {name: opt_count(body, name) for name in ("input_tokens", "output_tokens", "duration_ms")}
        thread = self.thread(thread_id)
        report = RunReport.objects.create(
            id="run_" + secrets.token_urlsafe(16),
            thread=thread,
            status=run_status,
            model_id=model_id,
            payload=body,
            **counts,
        )
        return Response({"run_id": report.id}, status=status.HTTP_201_CREATED)


class EventsView(CloudView):
    """`POST /v1/events`: engagement events are acknowledged (202) but not stored by this server."""

    def post(self, request: Request) -> Response:
        events = self.data().get("events")
        if not isinstance(events, list) or len(events) > 100:
            raise invalid("events: required, a list of at most 100 events.")
        return Response({"accepted": len(events)}, status=status.HTTP_202_ACCEPTED)


class NotFoundView(APIView):
    """Any other /v1 path: a JSON 404 (files, scores and projects are not offered)."""

    content_negotiation_class = JsonAlways
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    def handle(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise CloudError("not_found", "No such endpoint.", status.HTTP_404_NOT_FOUND)

    get = post = put = patch = delete = handle
