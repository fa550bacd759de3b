"""The Assistant Cloud compatible API (/v1): a thin face over `threads.services`, scoped per workspace.

Every handler resolves its thread through `services.thread_get(workspace=...)`, so a missing id and
another workspace's id are the same 404.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import IntegrityError, transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from chatauth.caller import Caller, Workspace
from chatauth.cloud import anonymous
from chatauth.drf import CloudAuthentication, HasWorkspace, IsSignedInWorkspace
from config.errors import ApiError
from config.validation import BoundedJSONParser, JsonAlways, validated
from threads import files, services
from threads import openapi as o
from threads.cloud import leases
from threads.cloud import services as cloud_services
from threads.cloud.scores import ScoreBody, feedback_upsert, score_json, score_upsert
from threads.cloud.serializers import (
    FeedbackBody,
    MessageCreateBody,
    MessagesDeleteBody,
    MessageUpdateBody,
    RefreshTokenBody,
    ThreadCreateBody,
    ThreadUpdateBody,
    message_json,
    not_found,
    thread_json,
)
from threads.conf import threads_settings
from threads.pagination import page_limit, query_bool

logger = logging.getLogger(__name__)


class CloudView(APIView):
    authentication_classes = [CloudAuthentication]
    permission_classes = [HasWorkspace]
    content_negotiation_class = JsonAlways
    parser_classes = [BoundedJSONParser]

    @property
    def max_body(self) -> tuple[int, str]:
        return threads_settings.MAX_BODY_BYTES, "THREADS_MAX_BODY_BYTES"

    @property
    def caller(self) -> Caller:
        return self.request.auth

    @property
    def workspace(self) -> Workspace:
        return self.request.auth.workspace

    def within_anonymous_quota(self, *, threads: int = 0, messages: int = 0) -> None:
        """An anonymous identity costs nothing to create, so what it may store is bounded (a 403 past it)."""
        if self.caller.anonymous:
            cloud_services.check_anonymous_quota(workspace=self.workspace, threads=threads, messages=messages)

    def body(self, serializer_class: type) -> dict[str, Any]:
        return validated(serializer_class, self.request.data)

    def thread(self, thread_id: str, *, for_update: bool = False) -> Any:
        try:
            return services.thread_get(workspace=self.workspace, thread_id=thread_id, for_update=for_update)
        except services.NotFound as exc:
            raise not_found() from exc

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        caller = getattr(request, "_auth", None)
        if isinstance(caller, Caller) and caller.exchange_token:
            # Token exchange: the client caches this workspace token instead of the provider JWT.
            response["Authorization"] = f"Bearer {caller.exchange_token}"
        return response


def message_page_response(thread: Any, params: Any) -> Response:
    """One page of a thread's messages with their run leases, as the client lists them (both listing endpoints)."""
    messages = cloud_services.messages_page(
        thread=thread,
        format=params.get("format") or None,
        limit=page_limit(params.get("limit"), messages=True),
        after=params.get("after") or None,
    )
    runs = leases.runs_of(thread=thread, messages=messages)
    return Response({"messages": [message_json(m, runs.get(m.pk)) for m in messages]})


def no_content() -> Response:
    return Response(status=status.HTTP_204_NO_CONTENT)


# --- threads --------------------------------------------------------------------------------------------------


class ThreadListView(CloudView):
    @extend_schema(
        operation_id="v1_threads_list",
        summary="The workspace's threads",
        parameters=[
            OpenApiParameter("is_archived", bool),
            OpenApiParameter("limit", int),
            OpenApiParameter("after", str, description="Last thread id of the previous page."),
        ],
        responses={200: o.CloudThreadList, **o.errors(400, 401)},
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        threads = cloud_services.threads_page(
            workspace=self.workspace,
            archived=query_bool(params, "is_archived"),
            limit=page_limit(params.get("limit")),
            after=params.get("after") or None,
        )
        return Response({"threads": [thread_json(t) for t in threads]})

    @extend_schema(
        operation_id="v1_threads_create",
        summary="Create a thread (or upsert on external_id)",
        request=ThreadCreateBody,
        responses={
            201: o.CloudThreadCreated,
            200: OpenApiResponse(o.CloudThreadCreated, description="Upserted: the existing thread."),
            **o.errors(400, 401, 409, 413),
        },
    )
    def post(self, request: Request) -> Response:
        body = self.body(ThreadCreateBody)
        self.within_anonymous_quota(threads=1)
        external_id = body.get("external_id")
        if external_id:
            existing = cloud_services.thread_by_external_id(workspace=self.workspace, external_id=external_id)
            if existing is not None:
                if not body.get("upsert"):
                    raise ApiError("conflict", "A thread with this external_id exists.", status.HTTP_409_CONFLICT)
                changes = {k: body[k] for k in ("title", "metadata") if body.get(k) is not None}
                if changes:
                    services.thread_update(thread=existing, **changes)
                return Response({"thread_id": existing.id})
        try:
            thread = services.thread_create(
                workspace=self.workspace,
                title=body.get("title"),
                metadata=body.get("metadata"),
                external_id=external_id,
                last_message_at=body.get("last_message_at"),
            )
        except (services.ExternalIdTaken, IntegrityError) as exc:  # a concurrent create took the external id first
            raise ApiError("conflict", "A thread with this external_id exists.", status.HTTP_409_CONFLICT) from exc
        return Response({"thread_id": thread.id}, status=status.HTTP_201_CREATED)


class ThreadDetailView(CloudView):
    @extend_schema(operation_id="v1_threads_retrieve", responses={200: o.CloudThreadEnvelope, **o.errors(401, 404)})
    def get(self, request: Request, thread_id: str) -> Response:
        return Response({"thread": thread_json(self.thread(thread_id))})

    @extend_schema(
        operation_id="v1_threads_update", request=ThreadUpdateBody, responses={204: None, **o.errors(400, 401, 404)}
    )
    def put(self, request: Request, thread_id: str) -> Response:
        body = self.body(ThreadUpdateBody)
        changes: dict[str, Any] = {}
        if "title" in body:
            changes["title"] = body["title"]
        if body.get("last_message_at") is not None:
            changes["last_message_at"] = body["last_message_at"]
        if "metadata" in body:
            changes["metadata"] = body["metadata"] or {}
        if body.get("is_archived") is not None:
            changes["is_archived"] = body["is_archived"]
        with transaction.atomic():
            thread = self.thread(thread_id, for_update=True)
            if changes:
                services.thread_update(thread=thread, **changes)
        return no_content()

    @extend_schema(operation_id="v1_threads_destroy", responses={204: None, **o.errors(401, 404)})
    def delete(self, request: Request, thread_id: str) -> Response:
        services.thread_delete(thread=self.thread(thread_id))
        return no_content()


class ThreadClaimView(CloudView):
    """`POST /v1/threads/claim {refresh_token}`: move an anonymous identity's threads here."""

    permission_classes = [IsSignedInWorkspace]

    @extend_schema(
        operation_id="v1_threads_claim",
        summary="Move an anonymous identity's threads into this workspace",
        request=RefreshTokenBody,
        responses={200: o.CloudThreadsMoved, **o.errors(400, 401, 403)},
    )
    def post(self, request: Request) -> Response:
        raw = self.body(RefreshTokenBody)["refresh_token"]
        try:
            with transaction.atomic():
                identity = anonymous.begin_claim(raw, claimed_by=self.workspace.key)
                moved = cloud_services.threads_move(source=anonymous.workspace_of(identity), target=self.workspace)
        except anonymous.RefreshTokenInvalid as exc:
            anonymous.revoke_after_reuse(exc)
            raise ApiError(
                "invalid_refresh_token", "The refresh token is invalid, expired or already used.", 401
            ) from exc
        return Response({"moved": moved})


# --- messages -------------------------------------------------------------------------------------------------


class MessageListView(CloudView):
    @extend_schema(
        operation_id="v1_messages_list",
        parameters=[OpenApiParameter("format", str), OpenApiParameter("limit", int), OpenApiParameter("after", str)],
        responses={200: o.CloudMessageList, **o.errors(400, 401, 404)},
    )
    def get(self, request: Request, thread_id: str) -> Response:
        return message_page_response(self.thread(thread_id), request.query_params)

    @extend_schema(
        operation_id="v1_messages_create",
        request=MessageCreateBody,
        responses={
            201: o.CloudMessageCreated,
            200: OpenApiResponse(o.CloudMessageCreated, description="Already stored."),
            **o.errors(400, 401, 404, 413),
        },
    )
    def post(self, request: Request, thread_id: str) -> Response:
        body = self.body(MessageCreateBody)
        parent = body.get("parent_id") or body.get("parent_external_id")
        external_id = body.get("external_id")
        # A client id short enough becomes the message id: retries are idempotent and both faces share ids.
        message_id = external_id if external_id and len(external_id) <= 128 else None
        thread = self.thread(thread_id)
        self.within_anonymous_quota(messages=1)
        if body.get("lease_id"):
            # A repeated append as the lease holder: write the stored message's content under the lease.
            with transaction.atomic():
                try:
                    message = services.message_get(thread=thread, message_id=message_id or "")
                except services.NotFound as exc:
                    raise ApiError("lease_mismatch", "This lease does not hold this message.", 409) from exc
                leases.check_write(thread=thread, message=message, lease_id=body["lease_id"])
                services.message_update(message=message, content=body["content"])
            files.attach_to_thread(thread=thread, content=body["content"])
            return Response({"message_id": message.message_id})
        try:
            message, created = services.message_append(
                thread=thread, format=body["format"], content=body["content"], parent_id=parent, message_id=message_id
            )
        except services.InvalidParent as exc:
            raise ApiError("invalid_parent", "parent_id is not a message of this thread.") from exc
        files.attach_to_thread(thread=thread, content=body["content"])
        payload: dict[str, Any] = {"message_id": message.message_id}
        if body.get("open_run"):
            payload.update(leases.lease_json(leases.open_lease(thread=thread, message=message)))
        return Response(payload, status=201 if created else 200)

    @extend_schema(
        operation_id="v1_messages_destroy", request=MessagesDeleteBody, responses={204: None, **o.errors(400, 401, 404)}
    )
    def delete(self, request: Request, thread_id: str) -> Response:
        ids = self.body(MessagesDeleteBody)["message_ids"]
        cloud_services.messages_delete(thread=self.thread(thread_id), message_ids=ids)
        return no_content()


class MessageDetailView(CloudView):
    @extend_schema(
        operation_id="v1_messages_update", request=MessageUpdateBody, responses={204: None, **o.errors(400, 401, 404)}
    )
    def put(self, request: Request, thread_id: str, message_id: str) -> Response:
        body = self.body(MessageUpdateBody)
        thread = self.thread(thread_id)
        try:
            message = services.message_get(thread=thread, message_id=message_id)
        except services.NotFound as exc:
            raise not_found("Message") from exc
        with transaction.atomic():
            if body.get("lease_id"):
                leases.check_write(thread=thread, message=message, lease_id=body["lease_id"])
            services.message_update(message=message, content=body["content"])
        files.attach_to_thread(thread=thread, content=body["content"])
        return no_content()


class MessageFeedbackView(CloudView):
    @extend_schema(
        operation_id="v1_messages_feedback",
        request=FeedbackBody,
        responses={200: o.CloudFeedback, **o.errors(400, 401, 404)},
    )
    def post(self, request: Request, thread_id: str, message_id: str) -> Response:
        body = self.body(FeedbackBody)
        thread = self.thread(thread_id)
        try:
            message = services.message_get(thread=thread, message_id=message_id)
        except services.NotFound as exc:
            raise not_found("Message") from exc
        feedback = feedback_upsert(
            workspace=self.workspace, message=message, type=body["type"], comment=body.get("comment") or None
        )
        return Response({"feedback_id": str(feedback.pk), "type": feedback.type, "comment": feedback.comment})


# --- scores ---------------------------------------------------------------------------------------------------


class ScoreView(CloudView):
    """`POST /v1/scores`: one score per (user, message|thread|run, name); a repeat updates it."""

    @extend_schema(
        operation_id="v1_scores_create",
        request=ScoreBody,
        responses={200: OpenApiTypes.OBJECT, **o.errors(400, 401, 404)},
    )
    def post(self, request: Request) -> Response:
        body = self.body(ScoreBody)
        thread = self.thread(body["thread_id"]) if body.get("thread_id") else None
        message = None
        if body.get("message_id") and thread is not None:
            try:
                message = services.message_get(thread=thread, message_id=body["message_id"])
            except services.NotFound as exc:
                raise not_found("Message") from exc
        score = score_upsert(workspace=self.workspace, thread=thread, message=message, body=body)
        return Response(score_json(score))


@extend_schema(exclude=True)
class NotFoundView(APIView):
    """Any other /v1 path: a JSON 404 in the `{error, message}` shape."""

    content_negotiation_class = JsonAlways
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    def handle(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise ApiError("not_found", "No such endpoint.", status.HTTP_404_NOT_FOUND)

    get = post = put = patch = delete = handle
