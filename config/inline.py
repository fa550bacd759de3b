"""Django's own middlewares, made to run in place on ASGI: the same classes, without the thread hops.

Imported by `settings.MIDDLEWARE` only (the contrib middlewares import models: not at settings time).
"""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.contrib.auth import middleware as auth_middleware
from django.contrib.messages import middleware as message_middleware
from django.contrib.sessions import middleware as session_middleware
from django.http import HttpRequest, HttpResponse
from django.middleware import common


class InlineHooks:
    """For a Django `MiddlewareMixin` middleware whose hooks are pure computation: on ASGI, run them in place.

    `MiddlewareMixin.__acall__` runs `process_request` and `process_response` each through
    `sync_to_async(thread_sensitive=True)`, and the handler wraps a sync `process_view` the same way: three
    thread hops per middleware per request, and, since each ASGI request gets its own thread for
    thread-sensitive work, one thread per open stream for as long as it streams (511 threads at 500 streams in
    issue 17). The hooks of the middlewares below read headers and set attributes: they run on the event loop.
    A hook that may do I/O (a session to save, messages to store) says so in `response_needs_thread`, and only
    then hops, to the request's own thread (where a sync view that touched the session ran).
    Under WSGI nothing changes: the middleware is the Django one. Security, CSRF and clickjacking stay Django's
    own classes in `settings.MIDDLEWARE`: `check --deploy` finds them by name and skips its checks without them.
    None of the middlewares wrapped here has a `process_view`; one that had would need it made async as well.
    """

    def response_needs_thread(self, request: HttpRequest, response: HttpResponse) -> bool:
        return False

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        response = self.process_request(request) if hasattr(self, "process_request") else None
        response = response or await self.get_response(request)  # type: ignore[attr-defined]
        if hasattr(self, "process_response"):
            if self.response_needs_thread(request, response):
                return await sync_to_async(self.process_response, thread_sensitive=True)(request, response)
            return self.process_response(request, response)
        return response


class CommonMiddleware(InlineHooks, common.CommonMiddleware):
    pass


class AuthenticationMiddleware(InlineHooks, auth_middleware.AuthenticationMiddleware):
    pass


class SessionMiddleware(InlineHooks, session_middleware.SessionMiddleware):
    def response_needs_thread(self, request: HttpRequest, response: HttpResponse) -> bool:
        session = getattr(request, "session", None)
        return session is not None and (session.accessed or session.modified)  # it may be saved (database)


class MessageMiddleware(InlineHooks, message_middleware.MessageMiddleware):
    def response_needs_thread(self, request: HttpRequest, response: HttpResponse) -> bool:
        storage = getattr(request, "_messages", None)
        return storage is not None and (storage.used or storage.added_new)  # stored in the session or a cookie
