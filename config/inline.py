"""Django's own middlewares with their hooks run in place on ASGI: the same classes, without the thread hops.

Loaded only by `config.handler.ASGIHandler`, in place of the Django names in `settings.MIDDLEWARE`
(`config.handler.IN_PLACE`); WSGI and Django's test clients load Django's classes. Not imported at settings
time (the contrib middlewares import models). Each hook below reads headers, cookies or settings and sets
attributes or headers: it runs on the event loop. One that may do I/O says so in `*_needs_thread`, and only
then runs in the request's thread (where a sync view that touched the session ran).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import middleware as auth_middleware
from django.contrib.messages import middleware as message_middleware
from django.contrib.sessions import middleware as session_middleware
from django.http import HttpRequest, HttpResponseBase
from django.middleware import clickjacking, common, csrf, security

from config.handler import InPlaceHooks


class SecurityMiddleware(InPlaceHooks, security.SecurityMiddleware):
    """The HTTPS redirect and the HSTS, nosniff, referrer and COOP headers: settings and headers only."""


class CommonMiddleware(InPlaceHooks, common.CommonMiddleware):
    """Disallowed user agents, the slash and `www` redirects (a URL resolve), `Content-Length`."""


class CsrfViewMiddleware(InPlaceHooks, csrf.CsrfViewMiddleware):
    """The CSRF cookie, Origin/Referer and token checks: headers, cookies and the (already read) form body.

    With `CSRF_USE_SESSIONS` the secret lives in the session, which may be loaded from or saved to the
    database: then every hook runs in the request's thread, as in Django.
    """

    def request_needs_thread(self, request: HttpRequest) -> bool:
        return bool(settings.CSRF_USE_SESSIONS)

    def response_needs_thread(self, request: HttpRequest, response: HttpResponseBase) -> bool:
        return bool(settings.CSRF_USE_SESSIONS)


class AuthenticationMiddleware(InPlaceHooks, auth_middleware.AuthenticationMiddleware):
    """Attaches a lazy `request.user` and `request.auser`: nothing is read until they are used."""


class SessionMiddleware(InPlaceHooks, session_middleware.SessionMiddleware):
    """Attaches a lazy session; saving one that was used may write to the database: in the request's thread."""

    def response_needs_thread(self, request: HttpRequest, response: HttpResponseBase) -> bool:
        session = getattr(request, "session", None)
        return session is not None and (session.accessed or session.modified)


class MessageMiddleware(InPlaceHooks, message_middleware.MessageMiddleware):
    """Attaches lazy message storage; storing messages (in the session or a cookie): in the request's thread."""

    def response_needs_thread(self, request: HttpRequest, response: HttpResponseBase) -> bool:
        storage = getattr(request, "_messages", None)
        return storage is not None and (storage.used or storage.added_new)


class XFrameOptionsMiddleware(InPlaceHooks, clickjacking.XFrameOptionsMiddleware):
    """The `X-Frame-Options` header: settings and response attributes only."""
