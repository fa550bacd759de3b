"""Attach the Clerk caller to every request: `request.auth_state`, `request.principal`, `request.user`."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse
from django.urls import NoReverseMatch, reverse
from django.utils.functional import SimpleLazyObject

from chatauth.caller import ANONYMOUS, AuthFailure, AuthState, Principal, TokenSource
from chatauth.clerk.conf import clerk_settings
from chatauth.clerk.tokens import verify_session_token
from chatauth.clerk.users import get_or_create_clerk_user
from chatauth.jwt import TokenVerificationError
from config.middleware import HybridMiddleware

logger = logging.getLogger(__name__)

SESSION_COOKIE = "__session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def token_from_request(request: HttpRequest) -> tuple[str, TokenSource] | None:
    """`Authorization: Bearer` first, then the `__session` cookie; None when neither is there."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip(), "header"
    cookie = request.COOKIES.get(SESSION_COOKIE)
    if cookie:
        return cookie, "cookie"
    return None


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else ""


def cookie_origin_allowed(request: HttpRequest) -> bool:
    """CSRF for cookie-borne tokens: an unsafe request must come from an authorized party.

    With no authorized parties configured, only the service's own origin is accepted.
    """
    if request.method in SAFE_METHODS:
        return True
    origin = request.META.get("HTTP_ORIGIN", "")
    if not origin or origin == "null":
        return False
    allowed = {_origin_of(p) for p in clerk_settings.AUTHORIZED_PARTIES}
    if not allowed:
        allowed = {f"{request.scheme}://{request.get_host()}".lower()}
    return _origin_of(origin) in allowed


def authenticate_request(request: HttpRequest) -> AuthState:
    found = token_from_request(request)
    if found is None:
        return ANONYMOUS
    token, source = found
    if source == "cookie" and not cookie_origin_allowed(request):
        return AuthState(
            failure=AuthFailure("origin-not-allowed", "A cookie session on an unsafe method needs an allowed Origin.")
        )
    try:
        principal = verify_session_token(token, source=source)
    except TokenVerificationError as exc:
        logger.info("session token refused: %s", exc.reason)
        return AuthState(failure=AuthFailure(exc.reason, exc.message))
    except Exception:
        # Fail closed: an unexpected error (a cache outage, say) signs the caller out; it never becomes a 500.
        logger.exception("session token verification failed unexpectedly")
        return AuthState(failure=AuthFailure("token-verification-failed", "The session token could not be verified."))
    return AuthState(principal=principal)


@lru_cache(maxsize=1)
def _admin_prefix() -> str:
    try:
        return reverse("admin:index")
    except NoReverseMatch:
        return "/admin/"


class ClerkAuthMiddleware(HybridMiddleware):
    """Verify the session token once per request; the Django admin is left to Django's own sessions.

    A token that fails verification leaves the request anonymous, with the reason kept on
    `request.auth_state.failure` for the 401 body. The Django user is loaded lazily, only when used.
    """

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if self.is_async:
            return self.__acall__(request)
        self._attach(request, self._state_for(request))
        return self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        if self._skipped(request) or token_from_request(request) is None:
            state = ANONYMOUS
        else:
            state = await sync_to_async(authenticate_request, thread_sensitive=False)(request)
        self._attach(request, state)
        return await self.get_response(request)

    def _skipped(self, request: HttpRequest) -> bool:
        """The admin uses Django's own sessions; the /v1 API has its own credentials (workspace tokens)."""
        return request.path.startswith((_admin_prefix(), *clerk_settings.EXEMPT_PATH_PREFIXES))

    def _state_for(self, request: HttpRequest) -> AuthState:
        return ANONYMOUS if self._skipped(request) else authenticate_request(request)

    def _attach(self, request: HttpRequest, state: AuthState) -> None:
        request.auth_state = state  # type: ignore[attr-defined]
        request.principal = state.principal  # type: ignore[attr-defined]
        principal = state.principal
        if principal is None:
            return
        request.user = SimpleLazyObject(lambda: _user_for(principal))  # type: ignore[assignment]

        async def auser() -> Any:
            return await sync_to_async(_user_for)(principal)

        request.auser = auser  # type: ignore[attr-defined]


def _user_for(principal: Principal) -> Any:
    return get_or_create_clerk_user(principal.user_id)
