"""DRF adapters over the project's one `Caller`: authentication classes, permissions, schema extensions.

Authentication classes follow DRF's contract: `None` means "no credential of mine" (the next class may
try), raising `AuthenticationFailed(code=reason)` means "a credential of mine, and it is bad". The reason
codes are Clerk's (`token-expired`, ...), rendered as `{"error": reason, "message": ...}`.
"""

from __future__ import annotations

import logging
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from chatauth.caller import ANONYMOUS, Caller
from chatauth.jwt import TokenVerificationError
from config.messages import SIGN_IN_REQUIRED

logger = logging.getLogger(__name__)


def refused(reason: str, message: str) -> exceptions.AuthenticationFailed:
    return exceptions.AuthenticationFailed(message, code=reason)


class ClerkSessionAuthentication(BaseAuthentication):
    """`(user, caller)` for a verified Clerk session, from what `ClerkAuthMiddleware` attached (no second
    verification); 401 with the failure reason for a bad token."""

    def authenticate(self, request: Request) -> tuple[Any, Caller] | None:
        auth = getattr(request._request, "clerk", None)
        state = auth.state() if auth is not None else ANONYMOUS
        if state.caller is not None:
            return request._request.user, state.caller
        if state.failure is not None:
            raise refused(state.failure.reason, state.failure.message)
        return None

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class CloudAuthentication(BaseAuthentication):
    """/v1 credentials: API keys, workspace tokens, provider JWTs, anonymous identities (`chatauth.cloud.auth`)."""

    def authenticate(self, request: Request) -> tuple[Caller, Caller] | None:
        # Imported here: DRF loads this module from settings before the app registry (and models) is ready.
        from chatauth.cloud.auth import authenticate_token, bearer_token

        try:
            token = bearer_token(request.META)
            if token is None:
                return None
            caller = authenticate_token(token, request.META)
        except TokenVerificationError as exc:
            logger.info("/v1 credential refused: %s", exc.reason)
            raise refused(exc.reason, exc.message) from exc
        request._request.caller = caller  # type: ignore[attr-defined]  (for the request log)
        return caller, caller

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="v1"'


def _caller(request: Request) -> Caller | None:
    return request.auth if isinstance(request.auth, Caller) else None


class IsSignedIn(BasePermission):
    """Signed in with a verified Clerk session; checks the caller, so no database read is needed."""

    message = SIGN_IN_REQUIRED

    def has_permission(self, request: Request, view: Any) -> bool:
        caller = _caller(request)
        return caller is not None and caller.is_clerk_session


class HasWorkspace(BasePermission):
    message = "Send a workspace token, a provider JWT, or an API key with Aui-User-Id and Aui-Workspace-Id."

    def has_permission(self, request: Request, view: Any) -> bool:
        return _caller(request) is not None


class IsApiKeyCaller(BasePermission):
    message = "Only an API key may mint workspace tokens."

    def has_permission(self, request: Request, view: Any) -> bool:
        caller = _caller(request)
        return caller is not None and caller.via == "api_key"


class IsSignedInWorkspace(BasePermission):
    message = "Claiming needs a signed-in (not anonymous) workspace."

    def has_permission(self, request: Request, view: Any) -> bool:
        caller = _caller(request)
        return caller is not None and not caller.anonymous


class _BearerScheme(OpenApiAuthenticationExtension):
    """An authentication class documented as what it is on the wire: `Authorization: Bearer <credential>`."""

    description = ""

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {"type": "http", "scheme": "bearer", "description": self.description}


class ClerkSessionScheme(_BearerScheme):
    target_class = "chatauth.drf.ClerkSessionAuthentication"
    name = "clerkSession"
    description = "A Clerk session token (a JWT), or the `__session` cookie from the same site."


class WorkspaceCredentialScheme(_BearerScheme):
    target_class = "chatauth.drf.CloudAuthentication"
    name = "workspaceCredential"
    description = "A workspace token, a provider JWT with an auth rule, or an API key (`aui_sk_...`)."
