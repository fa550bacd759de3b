"""`POST /api/chat` and `POST /api/threads/{id}/title`: async views, gated before any model call."""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt

from chatauth.errors import json_error
from chatauth.principal import Principal
from threads import services
from threads.chat import titles
from threads.chat.limits import Limited, acquire_stream_slot, check_rate
from threads.chat.protocol import HEADERS
from threads.chat.request import BadChatRequest, parse_chat_request
from threads.chat.stream import ChatStream, Generation, prepare_turn


def _unauthorized(request: HttpRequest) -> JsonResponse:
    failure = getattr(request, "auth_state", None) and request.auth_state.failure
    response = json_error(
        failure.reason if failure else "unauthorized",
        failure.message if failure else "Sign in required: send a Clerk session token.",
        401,
    )
    response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


def _too_many(limited: Limited) -> JsonResponse:
    response = json_error("rate_limited", limited.message, 429)
    response["Retry-After"] = str(limited.retry_after)
    return response


def _principal(request: HttpRequest) -> Principal | None:
    return getattr(request, "principal", None)


@csrf_exempt
async def chat(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return json_error("method_not_allowed", "Use POST.", 405)
    principal = _principal(request)
    if principal is None:
        return _unauthorized(request)
    try:
        chat_request = parse_chat_request(request.body)
    except BadChatRequest as exc:
        return json_error("invalid_request", str(exc), 400)
    limited = await sync_to_async(check_rate)(principal.user_id)
    if limited:
        return _too_many(limited)
    slot = await sync_to_async(acquire_stream_slot)(principal.user_id)
    if isinstance(slot, Limited):
        return _too_many(slot)
    try:
        turn = await sync_to_async(prepare_turn)(workspace=principal.workspace, request=chat_request)
    except services.NotFound:
        await sync_to_async(slot.release)()
        return json_error("not_found", "Thread not found.", 404)
    except services.InvalidParent as exc:
        await sync_to_async(slot.release)()
        return json_error("invalid_request", str(exc), 400)
    except BaseException:
        await sync_to_async(slot.release)()
        raise
    stream = ChatStream(Generation(turn=turn, request=chat_request, slot=slot))
    response = StreamingHttpResponse(stream.events(), status=200)
    for name, value in HEADERS.items():
        response[name] = value
    return response


def _thread_for_title(principal: Principal, thread_id: str) -> tuple[Any, dict[str, Any] | None]:
    thread = services.thread_get(workspace=principal.workspace, thread_id=thread_id)
    first_user = next((m for m in services.messages_in_tree_order(thread=thread) if m.role == "user"), None)
    return thread, (first_user.content if first_user else None)


@csrf_exempt
async def thread_title(request: HttpRequest, thread_id: str) -> HttpResponse:
    """Regenerate a thread's title from its first user message."""
    if request.method != "POST":
        return json_error("method_not_allowed", "Use POST.", 405)
    principal = _principal(request)
    if principal is None:
        return _unauthorized(request)
    try:
        thread, first_user = await sync_to_async(_thread_for_title)(principal, thread_id)
    except services.NotFound:
        return json_error("not_found", "Thread not found.", 404)
    if first_user is None:
        return json_error("invalid_request", "The thread has no user message to title.", 400)
    title = await titles.generate_title(first_user)
    await sync_to_async(services.thread_update)(thread=thread, title=title)
    return JsonResponse({"id": thread.id, "title": title})
