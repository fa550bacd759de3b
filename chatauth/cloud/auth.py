"""Who is calling /v1, in the four ways the assistant-cloud client can: one DRF authentication class.

`Authorization: Bearer` holds one of
- an API key (`aui_sk_...`) plus `Aui-User-Id` and `Aui-Workspace-Id` headers (server-side use),
- a workspace token signed by this service (from /api/assistant-ui-token, /v1/auth/tokens, anonymous mode),
- a provider JWT whose issuer has an enabled auth rule; the caller then gets a workspace token back in the
  `Authorization` response header, which the client caches and uses from then on.
Contract as in DRF: None for "no credentials", `CloudAuthenticationFailed` (401 JSON) for bad ones.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from chatauth.caller import Workspace
from chatauth.cloud.anonymous import identity_is_unclaimed
from chatauth.cloud.apikeys import InvalidApiKey, api_key_is_active, authenticate_api_key, looks_like_api_key
from chatauth.cloud.conf import cloud_settings
from chatauth.cloud.provider_rules import NO_RULE, rule_for_issuer, verify_provider_token
from chatauth.cloud.tokens import (
    InvalidWorkspaceId,
    WorkspaceClaims,
    looks_like_workspace_token,
    mint,
    parse_workspace_id,
    verify_decoded,
)
from chatauth.drf import ClerkAuthenticationFailed
from chatauth.jwt import TokenVerificationError, decode_unverified

logger = logging.getLogger(__name__)

Mode = Literal["api_key", "workspace_token", "provider", "anonymous"]


class CloudAuthenticationFailed(ClerkAuthenticationFailed):
    """401 with `{error: reason, message}` (the project's exception handler reads `reason`)."""


@dataclass(frozen=True)
class CloudCaller:
    """The authenticated /v1 caller: the workspace it may act in, and how it proved that."""

    workspace: Workspace
    mode: Mode
    api_key_id: str | None = None
    exchange_token: str | None = None

    is_authenticated = True
    is_anonymous = False

    @property
    def anonymous(self) -> bool:
        return self.mode == "anonymous"


def bearer_token(request: Request) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise CloudAuthenticationFailed("token-invalid", "Authorization must be 'Bearer <token>'.")
    return value.strip()


def authenticate_token(token: str, meta: dict[str, Any]) -> CloudCaller:
    """Raises `CloudAuthenticationFailed`; never returns a caller for a token it could not verify."""
    if looks_like_api_key(token):
        return _api_key_caller(token, meta)
    try:
        header, payload, signature = decode_unverified(token, int(cloud_settings.MAX_TOKEN_BYTES))
        if looks_like_workspace_token(header, payload):
            return _workspace_token_caller(verify_decoded(token, header, payload, signature))
        rule = rule_for_issuer(payload.get("iss"))
        if rule is None:
            raise TokenVerificationError(NO_RULE, "The token is neither a workspace token nor from a known issuer.")
        workspace = verify_provider_token(token, rule)
    except TokenVerificationError as exc:
        logger.info("/v1 token refused: %s", exc.reason)
        raise CloudAuthenticationFailed(exc.reason, exc.message) from exc
    return CloudCaller(workspace=workspace, mode="provider", exchange_token=mint(workspace))


def _api_key_caller(token: str, meta: dict[str, Any]) -> CloudCaller:
    try:
        key = authenticate_api_key(token)
    except InvalidApiKey as exc:
        logger.info("/v1 API key refused")
        raise CloudAuthenticationFailed("api-key-invalid", "The API key is invalid or revoked.") from exc
    try:
        workspace = parse_workspace_id(meta.get("HTTP_AUI_WORKSPACE_ID", ""), meta.get("HTTP_AUI_USER_ID", ""))
    except InvalidWorkspaceId as exc:
        raise CloudAuthenticationFailed("workspace-invalid", str(exc)) from exc
    return CloudCaller(workspace=workspace, mode="api_key", api_key_id=key.key_id)


def _workspace_token_caller(claims: WorkspaceClaims) -> CloudCaller:
    if claims.anonymous and not cloud_settings.ANONYMOUS_ENABLED:
        raise TokenVerificationError("anonymous-disabled", "Anonymous mode is off.")
    if claims.anonymous and not identity_is_unclaimed(claims.workspace.user_id):
        # Its threads moved to a signed-in workspace: nothing may be written behind them.
        raise TokenVerificationError("anonymous-identity-claimed", "This anonymous identity was claimed.")
    if claims.api_key_id is not None and not api_key_is_active(claims.api_key_id):
        raise TokenVerificationError("api-key-invalid", "The API key that minted this token was revoked.")
    return CloudCaller(
        workspace=claims.workspace,
        mode="anonymous" if claims.anonymous else "workspace_token",
        api_key_id=claims.api_key_id,
    )


class CloudAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[CloudCaller, CloudCaller] | None:
        token = bearer_token(request)
        if token is None:
            return None
        caller = authenticate_token(token, request.META)
        return caller, caller

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="v1"'


class HasWorkspace(BasePermission):
    message = "Send a workspace token, a provider JWT, or an API key with Aui-User-Id and Aui-Workspace-Id."

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, CloudCaller)


class IsApiKeyCaller(BasePermission):
    message = "Only an API key may mint workspace tokens."

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, CloudCaller) and request.auth.mode == "api_key"


class IsSignedInWorkspace(BasePermission):
    message = "Claiming needs a signed-in (not anonymous) workspace."

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, CloudCaller) and not request.auth.anonymous
