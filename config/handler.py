"""The project's ASGI handler: Django's, without a thread per request.

Django's `ASGIHandler` runs each request in an asgiref `ThreadSensitiveContext`: the request's first
thread-sensitive `sync_to_async` call creates an executor thread for that request alone, and the thread lives as
long as the request does (for a chat stream, its whole life: 512 threads at 500 open streams in issue 17). Three
things made every request take that thread, whatever its view:

1. `request_started` and `request_finished` go through `Signal.asend` / `sync_to_async(response.close)`, so
   their sync receivers (`close_old_connections`, `reset_queries`, `close_caches`) run in the request's thread;
2. `MiddlewareMixin.__acall__` runs `process_request` and `process_response` through `sync_to_async`;
3. the handler wraps a sync `process_view` (CSRF's) in `sync_to_async`.

Here (1): the signals are sent in place when the request has no thread, and in that thread, exactly as Django
does, when it has one (a sync view, e.g. DRF, ran there and may have opened a database connection: its
`close_old_connections` must run there, or the connection would never be closed or recycled per
`CONN_MAX_AGE`). Without a thread there is no connection to close: the event loop's thread never holds one
(Django refuses database work there), and chat database work runs on `threads.chat.dbgate`'s own threads.
(2) and (3): the Django middlewares named in `IN_PLACE` are loaded as their `config.inline` subclasses, whose
hooks (pure computation: headers, cookies, attributes) run on the event loop; `settings.MIDDLEWARE` keeps
Django's own dotted names (`check --deploy` looks for them by name). A hook that may do I/O says so
(`InPlaceHooks.*_needs_thread`) and then runs in the request's thread, as Django would run it.

(4) The chat endpoints (`CHAT_PATHS`) get a chain of their own, without the middlewares of `NOT_ON_CHAT_PATHS`:
the caller there is Clerk's, so no Django session, login, flash message, admin lockout or static file is read or
written, and each of those layers cost a coroutine and its hooks in front of every model call (issue 17: the
chain was 0.5-0.7 ms of the 3 ms before a new chat's model request leaves). Everything else on those paths runs as
on every other: request id, security headers, metrics, CORS, JSON errors, CSRF, Clerk, clickjacking.

Everything else is Django's: body reading and limits, disconnects, streaming, exceptions, `close()`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from asgiref.sync import AsyncToSync, SyncToAsync, sync_to_async
from django.core import signals
from django.core.exceptions import MiddlewareNotUsed, RequestAborted
from django.core.handlers import asgi, base
from django.dispatch import Signal
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.urls import set_script_prefix

# Django's middleware -> its subclass whose hooks run in place on ASGI (WSGI and the test clients load Django's).
IN_PLACE: dict[str, str] = {
    "django.middleware.security.SecurityMiddleware": "config.inline.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware": "config.inline.SessionMiddleware",
    "django.middleware.common.CommonMiddleware": "config.inline.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware": "config.inline.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware": "config.inline.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware": "config.inline.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware": "config.inline.XFrameOptionsMiddleware",
}


# The streaming chat endpoints (`threads.chat.urls`): `/api/chat` and `/api/chat/{id}/stream`. The title endpoint,
# a chat view too, is not under it and takes the full chain. Should the URLs move, they take the full chain too.
CHAT_PATHS = "/api/chat"

# Middlewares left out of the chat paths' chain: each reads or writes only what those paths never use.
NOT_ON_CHAT_PATHS: frozenset[str] = frozenset(
    {
        "config.staticfiles.StaticFilesMiddleware",  # serves /static/ and /app/assets/ only
        "django.contrib.sessions.middleware.SessionMiddleware",  # the admin's sign-in
        "django.contrib.auth.middleware.AuthenticationMiddleware",  # request.user is Clerk's there
        "django.contrib.messages.middleware.MessageMiddleware",  # the admin's flash messages
        "axes.middleware.AxesMiddleware",  # the admin's login lockout page
    }
)


def is_chat_path(path: str) -> bool:
    return path == CHAT_PATHS or path.startswith(CHAT_PATHS + "/")


class _NotOnChatPaths:
    """Loaded in place of a middleware of `NOT_ON_CHAT_PATHS` in the chat paths' chain: Django skips it."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Any) -> None:
        raise MiddlewareNotUsed("not on the chat paths")


def request_has_thread() -> bool:
    """Whether thread-sensitive sync work of the current request already has a thread to run in.

    Either the request's own executor (created by its first thread-sensitive `sync_to_async` call) or, when the
    application is driven from sync code through `async_to_sync` (a test, a management command), that caller's
    thread. Where this is true Django's way costs no new thread; where it is false Django's way would create one.
    """
    if getattr(AsyncToSync.executors, "current", None) is not None:
        return True
    context = SyncToAsync.thread_sensitive_context.get(None)
    return context is not None and context in SyncToAsync.context_to_thread_executor


async def send_signal(signal: Signal, sender: Any, **named: Any) -> None:
    """`signal.asend(...)`, with the sync receivers called in place when the request has no thread."""
    if request_has_thread():
        await signal.asend(sender=sender, **named)
        return
    sync_receivers, async_receivers = signal._live_receivers(sender)
    for receiver in sync_receivers:
        receiver(signal=signal, sender=sender, **named)
    if async_receivers:
        await asyncio.gather(*(receiver(signal=signal, sender=sender, **named) for receiver in async_receivers))


async def close_response(response: HttpResponseBase) -> None:
    """`response.close()` (its closers, then `request_finished`): in place when the request has no thread."""
    if request_has_thread() or signals.request_finished._live_receivers(response._handler_class)[1]:
        # In the request's thread, as Django does (its connections are closed there). An async receiver of
        # `request_finished` needs `close()` off the event loop too: `Signal.send` runs it with `async_to_sync`.
        await sync_to_async(response.close)()
    else:
        response.close()


class InPlaceHooks:
    """For a Django `MiddlewareMixin` middleware whose hooks are pure computation: on ASGI, run them in place.

    The same hooks as `MiddlewareMixin.__acall__`, in the same order, without its two `sync_to_async` hops; the
    handler runs `process_view` in place too. A hook that may do I/O says so below, and only then hops to the
    request's thread (where a sync view that touched, say, the session ran). Under WSGI nothing changes.
    """

    def request_needs_thread(self, request: HttpRequest) -> bool:
        return False

    def view_needs_thread(self, request: HttpRequest) -> bool:
        return self.request_needs_thread(request)

    def response_needs_thread(self, request: HttpRequest, response: HttpResponseBase) -> bool:
        return False

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        response = None
        if hasattr(self, "process_request"):
            if self.request_needs_thread(request):
                response = await sync_to_async(self.process_request, thread_sensitive=True)(request)
            else:
                response = self.process_request(request)
        response = response or await self.get_response(request)  # type: ignore[attr-defined]
        if hasattr(self, "process_response"):
            if self.response_needs_thread(request, response):
                return await sync_to_async(self.process_response, thread_sensitive=True)(request, response)
            return self.process_response(request, response)
        return response


def _process_view_in_place(middleware: InPlaceHooks, process_view: Callable[..., Any]) -> Callable[..., Any]:
    async def process_view_in_place(request: HttpRequest, callback: Any, args: Any, kwargs: Any) -> Any:
        if middleware.view_needs_thread(request):
            return await sync_to_async(process_view, thread_sensitive=True)(request, callback, args, kwargs)
        return process_view(request, callback, args, kwargs)

    return process_view_in_place


class ASGIHandler(asgi.ASGIHandler):
    """Django's `ASGIHandler` with the in-place middlewares of `IN_PLACE`, the request signals in place, and the
    chat paths' own chain (`chat_paths`, a twin of this handler without `NOT_ON_CHAT_PATHS`)."""

    skipped: frozenset[str] = frozenset()

    def __init__(self) -> None:
        self.in_place: list[str] = []  # the `IN_PLACE` middlewares this handler loaded (tested)
        self.loaded: list[str] = []  # the middlewares of `settings.MIDDLEWARE` in its chain (tested)
        super().__init__()
        self.chat_paths: ASGIHandler | None = None if self.skipped else _ChatPathsHandler()

    def load_middleware(self, is_async: bool = False) -> None:
        """Django's `load_middleware`, resolving the names of `IN_PLACE` to their in-place subclasses.

        Django resolves each `settings.MIDDLEWARE` entry with `django.core.handlers.base.import_string`; for
        the duration of this call that name resolves ours. (`self.in_place` records what was substituted: a
        Django that stopped resolving through it would load its own classes, correct but with their hops.)
        """
        resolve = base.import_string

        def import_middleware(path: str) -> Any:
            if path in self.skipped:
                return _NotOnChatPaths
            self.loaded.insert(0, path)  # Django loads them from the last to the first
            if is_async and path in IN_PLACE:
                self.in_place.append(path)
                return resolve(IN_PLACE[path])
            return resolve(path)

        self.in_place, self.loaded = [], []
        base.import_string = import_middleware
        try:
            super().load_middleware(is_async)
        finally:
            base.import_string = resolve

    def adapt_method_mode(
        self,
        is_async: bool,
        method: Any,
        method_is_async: bool | None = None,
        debug: bool = False,
        name: str | None = None,
    ) -> Any:
        middleware = getattr(method, "__self__", None)
        if is_async and isinstance(middleware, InPlaceHooks) and method.__name__ == "process_view":
            return _process_view_in_place(middleware, method)
        return super().adapt_method_mode(is_async, method, method_is_async, debug=debug, name=name)

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        if self.chat_paths is not None and is_chat_path(request.path_info):
            return await self.chat_paths.get_response_async(request)
        return await super().get_response_async(request)

    async def handle(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Django's `handle`, with `request_started`, `request_finished` and `close()` sent by `send_signal`
        and `close_response` (in the request's thread when it has one, else in place)."""
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        set_script_prefix(asgi.get_script_prefix(scope))
        await send_signal(signals.request_started, self.__class__, scope=scope)
        request, error_response = self.create_request(scope, body_file)
        if request is None:
            body_file.close()
            await self.send_response(error_response, send)
            await close_response(error_response)
            return

        async def respond() -> HttpResponse:
            response = await self.run_get_response(request)
            try:
                await self.send_response(response, send)
            except asyncio.CancelledError:
                pass  # the client went away while the response was being sent
            return response

        # The disconnect listener first: it raises nothing unexpected that would keep `respond` from being cancelled.
        listener = asyncio.create_task(self.listen_for_disconnect(receive))
        responder = asyncio.create_task(respond())
        await asyncio.wait((listener, responder), return_when=asyncio.FIRST_COMPLETED)
        for task in (listener, responder):
            if task.done():
                try:
                    task.result()
                except RequestAborted:
                    pass
                except AssertionError:
                    body_file.close()
                    raise
            else:
                task.cancel()  # views may handle the cancellation
                try:
                    await task
                except asyncio.CancelledError:
                    pass

        try:
            response = responder.result()
        except asyncio.CancelledError:
            await send_signal(signals.request_finished, self.__class__)
        else:
            await close_response(response)
        body_file.close()


class _ChatPathsHandler(ASGIHandler):
    """The chain of the chat paths: `settings.MIDDLEWARE` without `NOT_ON_CHAT_PATHS` (`ASGIHandler.chat_paths`)."""

    skipped = NOT_ON_CHAT_PATHS
