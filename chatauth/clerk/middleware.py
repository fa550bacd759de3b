"""Attach the Clerk caller to every request, lazily: `request.clerk`, `request.user`, `request.auser`."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from functools import lru_cache
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse
from django.urls import NoReverseMatch, reverse
from django.utils.functional import SimpleLazyObject

from chatauth.caller import ANONYMOUS, AuthFailure, AuthState, TokenSource
from chatauth.clerk.conf import clerk_settings
from chatauth.clerk.tokens import verifiable_in_place, verify_session_token
from chatauth.clerk.users import get_or_create_clerk_user
from chatauth.jwt import TokenVerificationError
from config.middleware import HybridMiddleware
from config.origins import origin_in

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


def cookie_origin_allowed(request: HttpRequest) -> bool:
    """CSRF for cookie-borne tokens: an unsafe request must come from an authorized party.

    With no authorized parties configured, only the service's own origin is accepted.
    """
    if request.method in SAFE_METHODS:
        return True
    allowed = list(clerk_settings.AUTHORIZED_PARTIES) or [f"{request.scheme}://{request.get_host()}"]
    return origin_in(request.META.get("HTTP_ORIGIN", ""), allowed)


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
        caller = verify_session_token(token, source=source)
    except TokenVerificationError as exc:
        logger.info("session token refused: %s", exc.reason)
        return AuthState(failure=AuthFailure(exc.reason, exc.message))
    except Exception:
        # Fail closed: an unexpected error (a cache outage, say) signs the caller out; it never becomes a 500.
        logger.exception("session token verification failed unexpectedly")
        return AuthState(failure=AuthFailure("token-verification-failed", "The session token could not be verified."))
    return AuthState(caller=caller)


@lru_cache(maxsize=1)
def _admin_prefix() -> str:
    try:
        return reverse("admin:index")
    except NoReverseMatch:
        return "/admin/"


def _skipped(request: HttpRequest) -> bool:
    """The admin uses Django's own sessions; the /v1 API has its own credentials (workspace tokens)."""
    return request.path.startswith((_admin_prefix(), *clerk_settings.EXEMPT_PATH_PREFIXES))


class RequestAuth:
    """The Clerk verdict for one request, computed on first use and cached (as Django's `request.user`).

    `state()` is for sync code, `await astate()` for async views: either way the token is verified at most
    once per request, and never for a request that does not ask (static assets, health checks). Once known,
    the caller is also put on `request.caller`, where logs and limits read it.
    """

    __slots__ = ("_request", "_state")

    def __init__(self, request: HttpRequest) -> None:
        self._request = request
        self._state: AuthState | None = None

    def _settle(self, state: AuthState) -> AuthState:
        self._state = state
        if state.caller is not None:
            self._request.caller = state.caller  # type: ignore[attr-defined]
        return state

    def state(self) -> AuthState:
        if self._state is None:
            self._settle(ANONYMOUS if _skipped(self._request) else authenticate_request(self._request))
        return self._state  # type: ignore[return-value]

    async def astate(self) -> AuthState:
        if self._state is None:
            found = None if _skipped(self._request) else token_from_request(self._request)
            if found is None:
                self._settle(ANONYMOUS)
            elif verifiable_in_place(found[0]):
                # Its key is held in this process: tens of microseconds on the event loop, not a thread hop.
                self._settle(authenticate_request(self._request))
            else:  # the shared cache or the issuer must be asked: off the event loop
                self._settle(await sync_to_async(authenticate_request, thread_sensitive=False)(self._request))
        return self._state  # type: ignore[return-value]


class ClerkAuthMiddleware(HybridMiddleware):
    """Attach `request.clerk` (a lazy, cached `RequestAuth`), and `request.user` / `request.auser` from it.

    Outside the admin, `request.user` is the Django user linked to the verified Clerk caller, or
    `AnonymousUser`: a Django session cookie never makes an API caller somebody. The Django admin keeps
    Django's own sessions (this middleware leaves its requests alone). A token that fails verification
    leaves the request anonymous, with the reason on `request.clerk.state().failure` for the 401 body.
    """

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if self.is_async:
            return self.__acall__(request)
        self._attach(request)
        return self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        self._attach(request)
        return await self.get_response(request)

    def _attach(self, request: HttpRequest) -> None:
        request.caller = None  # type: ignore[attr-defined]
        auth = RequestAuth(request)
        request.clerk = auth  # type: ignore[attr-defined]
        if request.path.startswith(_admin_prefix()):
            return
        request.user = SimpleLazyObject(lambda: _user_for(auth.state()))  # type: ignore[assignment]
        cached: list[Any] = []

        async def auser() -> Any:
            if not cached:
                state = await auth.astate()
                cached.append(await sync_to_async(_user_for)(state) if state.caller else AnonymousUser())
            return cached[0]

        request.auser = auser  # type: ignore[attr-defined]


def _user_for(state: AuthState) -> Any:
    if state.caller is None:
        return AnonymousUser()
    return get_or_create_clerk_user(state.caller.user_id)
