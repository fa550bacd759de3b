"""`POST /api/chat` and `POST /api/threads/{id}/title`: async views, gated before any model call."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from django.db import router
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt
from redis.exceptions import RedisError

from chatauth.caller import ANONYMOUS, Caller, Workspace
from config.errors import json_error
from config.ratelimit import Limited, client_address
from threads import services
from threads.chat import loopclaim, resumable, titles
from threads.chat.attachments import check_file_parts, has_file_parts
from threads.chat.conf import chat_settings
from threads.chat.dbgate import run_db
from threads.chat.early import EarlyCall
from threads.chat.limits import (
    GENERATIONS,
    READERS,
    LimitExceeded,
    OwnedSlot,
    SlotLease,
    acquire_slot,
    check_rate,
    in_cache_thread,
)
from threads.chat.protocol import HEADERS, RESUMABLE_STREAM_ID_HEADER
from threads.chat.records import append_turn, prepare_turn, resolve_thread, starts_a_chat
from threads.chat.request import BadChatRequest, ChatRequest, parse_chat_request
from threads.chat.stream import ChatStream, Generation, stop_connection_owned
from threads.files import FileError
from threads.models import Message, Thread


def _unauthorized(request: HttpRequest) -> JsonResponse:
    auth = getattr(request, "clerk", None)
    failure = auth.state().failure if auth is not None else None  # already settled by _principal
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


async def _principal(request: HttpRequest) -> Caller | None:
    auth = getattr(request, "clerk", None)
    return (await auth.astate() if auth is not None else ANONYMOUS).caller


@csrf_exempt
async def chat(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return json_error("method_not_allowed", "Use POST.", 405)
    principal = await _principal(request)
    if principal is None:
        return _unauthorized(request)
    try:
        chat_request = parse_chat_request(request.body)
    except BadChatRequest as exc:
        return json_error("invalid_request", str(exc), 400)
    if has_file_parts(chat_request):  # checked (and data: URLs decoded) before anything is written
        try:
            base_url = request.build_absolute_uri("/")
            chat_request = await run_db(
                check_file_parts, workspace=principal.workspace, request=chat_request, base_url=base_url
            )
        except FileError as exc:
            return json_error(exc.code, exc.message, exc.status)
    # The model request is built while the request is admitted (the SDK's CPU fills the admission's round trip) and
    # sent once it is (early.py): a request refused so far never reaches the model; one refused later is cancelled.
    early = EarlyCall.begin(chat_request)
    if early is not None:
        early.build()
    on_loop = chat_settings.RESUMABLE and claims_on_loop(chat_request)
    try:
        # The request is counted against the user's rate limit and takes one of their stream slots, in one trip
        # to the shared cache. The view holds the slot until a generation takes it over (`slot.transfer()`); any
        # other way out of this block (an error response, an exception, a cancelled request) releases it.
        async with acquire_slot(principal.user_id, GENERATIONS, counting="chat") as slot:
            if early is not None:
                await early.send()  # its context is the caller's one message: the thread is settled meanwhile
            if chat_settings.RESUMABLE:
                return await _start_resumable(principal, chat_request, slot, early, on_loop)
            turn = await run_db(prepare_turn, workspace=principal.workspace, request=chat_request)
            model = early.model_for(turn.history) if early is not None else None
            stream = ChatStream(Generation(turn=turn, request=chat_request, slot=slot.transfer(), model=model))
            return _event_stream(stream.events())
    except LimitExceeded as exc:
        return _too_many(exc.limited)
    except services.NotFound:
        return json_error("not_found", "Thread not found.", 404)
    except services.InvalidParent as exc:
        return json_error("invalid_request", str(exc), 400)
    except FileError as exc:  # a quota reached while the turn's files were stored
        return json_error(exc.code, exc.message, exc.status)
    except RedisError:
        return _redis_unavailable()
    finally:
        if early is not None and not early.taken:
            early.cancel()  # refused, failed or not needed: a request still at its gate never leaves


def _redis_unavailable() -> JsonResponse:
    response = json_error("stream_store_unavailable", "Resumable chat is unavailable right now. Retry shortly.", 503)
    response["Retry-After"] = "5"
    return response


def _event_stream(events: AsyncIterator[bytes]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(events, status=200)
    for name, value in HEADERS.items():
        response[name] = value
    return response


async def _start_resumable(
    principal: Caller, chat_request: Any, slot: SlotLease, early: EarlyCall | None, on_loop: bool
) -> HttpResponse:
    """The server owns the generation; this response is just its first reader."""
    workspace = principal.workspace
    thread, created = await _resolve_thread(workspace, chat_request, on_loop)
    if not created:  # a thread made just now has no reply whose owner could have died
        await resumable.reap_orphans(thread.id, workspace)
    # A tool continuation streams into the assistant message it names; anything else into a new one.
    last = chat_request.messages[-1]
    generation_id = last["id"] if last["role"] == "assistant" else Message.new_id()
    if not await resumable.claim_thread_when_free(thread.id, generation_id, workspace):
        return json_error(
            "generation_in_progress",
            "A reply is still being generated in this thread: resume it with GET /api/chat/{id}/stream, "
            "or stop it with DELETE /api/chat/{id}/stream.",
            409,
        )
    try:
        with resumable.holding_lease(thread.id):  # a burst may queue this for longer than a lease lasts
            turn = await run_db(
                append_turn,
                thread=thread,
                workspace=workspace,
                request=chat_request,
                assistant_id=generation_id,
                new_thread=created,
            )
    except BaseException:
        await resumable.release_thread(thread.id, generation_id)
        # A refused first turn leaves no empty thread behind.
        await run_db(services.thread_discard_if_empty, workspace=workspace, thread_id=thread.id)
        raise
    model = early.model_for(turn.history) if early is not None else None
    feed = resumable.start_owned_generation(
        Generation(turn=turn, request=chat_request, slot=slot.transfer(), model=model)
    )
    response = _event_stream(feed.frames())  # this worker owns it: the frames as emitted, not read back from Redis
    # assistant-ui's `resumable` option stores this id and resumes with resumeApi(id): /api/chat/{id}/stream.
    response[RESUMABLE_STREAM_ID_HEADER] = thread.id
    return response


def claims_on_loop(chat_request: ChatRequest) -> bool:
    """Whether this request's thread would be claimed on the event loop (a new chat, `loopclaim` usable)."""
    return starts_a_chat(chat_request) and loopclaim.usable(router.db_for_write(Thread))


async def _resolve_thread(workspace: Workspace, chat_request: ChatRequest, on_loop: bool) -> tuple[Thread, bool]:
    """`resolve_thread`, with a new chat's claim made on the event loop where it can be (`on_loop`, from
    `claims_on_loop`): one statement from the loop, no thread hop."""
    taken = False
    if on_loop:
        claimed = await loopclaim.claim(workspace=workspace, thread_id=chat_request.thread_id)
        if isinstance(claimed, Thread):
            return claimed, True
        taken = claimed is None
    return await run_db(resolve_thread, workspace=workspace, request=chat_request, taken=taken)


async def _holding(slot: OwnedSlot, events: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """`events`, with `slot` released when the response ends (finished, or the client gone)."""
    try:
        async for event in events:
            yield event
    finally:
        await slot.release()


def _thread_for_title(principal: Caller, thread_id: str) -> tuple[Any, dict[str, Any] | None]:
    thread = services.thread_get(workspace=principal.workspace, thread_id=thread_id)
    first_user = services.first_user_message(thread=thread)
    return thread, (first_user.content if first_user else None)


@csrf_exempt
async def thread_title(request: HttpRequest, thread_id: str) -> HttpResponse:
    """Regenerate a thread's title from its first user message."""
    if request.method != "POST":
        return json_error("method_not_allowed", "Use POST.", 405)
    principal = await _principal(request)
    if principal is None:
        return _unauthorized(request)
    # Per user, and per client address (many identities from one place share one budget).
    limited = await in_cache_thread(check_rate, principal.user_id, scope="title") or await in_cache_thread(
        check_rate, f"address:{client_address(request.META)}", scope="title"
    )
    if limited:
        return _too_many(limited)
    try:
        thread, first_user = await run_db(_thread_for_title, principal, thread_id)
    except services.NotFound:
        return json_error("not_found", "Thread not found.", 404)
    if first_user is None:
        return json_error("invalid_request", "The thread has no user message to title.", 400)
    title = await titles.generate_title(first_user)
    await run_db(services.thread_update, thread=thread, title=title)
    return JsonResponse({"id": thread.id, "title": title})


@csrf_exempt
async def chat_stream(request: HttpRequest, thread_id: str) -> HttpResponse:
    """GET: resume the thread's running generation (204 when there is none). DELETE: stop it."""
    if request.method not in ("GET", "DELETE"):
        return json_error("method_not_allowed", "Use GET to resume or DELETE to stop.", 405)
    principal = await _principal(request)
    if principal is None:
        return _unauthorized(request)
    try:
        thread = await run_db(services.thread_get, workspace=principal.workspace, thread_id=thread_id)
    except services.NotFound:
        return json_error("not_found", "Thread not found.", 404)
    if not chat_settings.RESUMABLE:  # the connection owns the reply: nothing to resume; a stop still stops it
        stopped = None
        if request.method == "DELETE":
            stopped = await stop_connection_owned(workspace=principal.workspace, thread_id=thread.id)
        return HttpResponse(status=204) if stopped is None else JsonResponse({"stopped": stopped})
    try:
        return await _resume_or_stop(request, principal, thread.id)
    except RedisError:
        return _redis_unavailable()


async def _resume_or_stop(request: HttpRequest, principal: Caller, thread_id: str) -> HttpResponse:
    if request.method == "DELETE":
        stopped = await resumable.request_stop(thread_id)
        return HttpResponse(status=204) if stopped is None else JsonResponse({"stopped": stopped})
    generation_id = await resumable.active_generation(thread_id)
    if generation_id is None:
        await resumable.reap_orphans(thread_id, principal.workspace)
        return HttpResponse(status=204)
    try:
        # A reader holds one of the user's CHAT_MAX_STREAM_READERS slots (shared by every worker) while open.
        async with acquire_slot(principal.user_id, READERS) as reader:
            events = resumable.read_generation(thread_id, principal.workspace, generation_id)
            return _event_stream(_holding(reader.transfer(), events))
    except LimitExceeded as exc:
        return _too_many(exc.limited)
