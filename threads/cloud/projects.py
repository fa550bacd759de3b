"""`/v1/projects/threads[/<id>/messages]`: the project-wide listing, for API-key callers only (403 otherwise)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from chatauth.drf import IsApiKeyCaller
from threads import openapi as o
from threads.cloud.project_listing import project_thread, project_threads_page
from threads.cloud.serializers import not_found, thread_json
from threads.cloud.views import CloudView, message_page_response
from threads.pagination import page_limit, query_bool


class ProjectAccess(IsApiKeyCaller):
    """The project's own server (an API key), never a workspace token, provider JWT or anonymous identity."""

    message = "Only an API key may list the project's threads."


class ProjectThreadListView(CloudView):
    permission_classes = [ProjectAccess]

    @extend_schema(
        operation_id="v1_project_threads_list", responses={200: o.CloudThreadList, **o.errors(400, 401, 403)}
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        threads = project_threads_page(
            archived=query_bool(params, "is_archived"),
            limit=page_limit(params.get("limit")),
            after=params.get("after") or None,
        )
        return Response({"threads": [thread_json(t) for t in threads]})


class ProjectThreadMessagesView(CloudView):
    permission_classes = [ProjectAccess]

    @extend_schema(
        operation_id="v1_project_messages_list", responses={200: o.CloudMessageList, **o.errors(400, 401, 403, 404)}
    )
    def get(self, request: Request, thread_id: str) -> Any:
        thread = project_thread(thread_id)
        if thread is None:
            raise not_found()
        # The thread was found project-wide above; its messages are the same page as /v1/threads/<id>/messages.
        return message_page_response(thread, request.query_params)
