"""DRF adapters over what `ClerkAuthMiddleware` attached: no second verification."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from chatauth.caller import ANONYMOUS, AuthState, Principal


class ClerkAuthenticationFailed(exceptions.AuthenticationFailed):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class ClerkSessionAuthentication(BaseAuthentication):
    """`(user, principal)` for a verified Clerk session; 401 with the failure reason for a bad token."""

    def authenticate(self, request: Request) -> tuple[Any, Principal] | None:
        state: AuthState = getattr(request._request, "auth_state", ANONYMOUS)
        if state.principal is not None:
            return request._request.user, state.principal
        if state.failure is not None:
            raise ClerkAuthenticationFailed(state.failure.reason, state.failure.message)
        return None

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class IsSignedIn(BasePermission):
    """Signed in with a verified Clerk session; checks the principal, so no database read is needed."""

    message = "Sign in required: send a Clerk session token as a Bearer token or the __session cookie."

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, Principal)
