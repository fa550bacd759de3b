"""Who is calling /v1, in the four ways the assistant-cloud client can: one function, one `Caller`.

`Authorization: Bearer` holds one of
- an API key (`aui_sk_...`) plus `Aui-User-Id` and `Aui-Workspace-Id` headers (server-side use),
- a workspace token signed by this service (from /api/assistant-ui-token, /v1/auth/tokens, anonymous mode),
- a provider JWT whose issuer has an enabled auth rule; the caller then gets a workspace token back in the
  `Authorization` response header, which the client caches and uses from then on.
A credential that cannot be verified raises `TokenVerificationError` with its reason; the DRF adapter in
`chatauth.drf` turns that into a 401.
"""

from __future__ import annotations

from typing import Any

from chatauth.caller import Caller
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
from chatauth.jwt import TokenVerificationError, decode_unverified
from config.ratelimit import enforce


def bearer_token(meta: dict[str, Any]) -> str | None:
    """The bearer credential, None when there is no Authorization header; any other scheme is refused."""
    header = meta.get("HTTP_AUTHORIZATION", "")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise TokenVerificationError("token-invalid", "Authorization must be 'Bearer <token>'.")
    return value.strip()


def authenticate_token(token: str, meta: dict[str, Any]) -> Caller:
    """Raises `TokenVerificationError`; never returns a caller for a token it could not verify."""
    if looks_like_api_key(token):
        return _api_key_caller(token, meta)
    header, payload, signature = decode_unverified(token, int(cloud_settings.MAX_TOKEN_BYTES))
    if looks_like_workspace_token(header, payload):
        return _workspace_token_caller(verify_decoded(token, header, payload, signature))
    rule = rule_for_issuer(payload.get("iss"))
    if rule is None:
        raise TokenVerificationError(NO_RULE, "The token is neither a workspace token nor from a known issuer.")
    workspace = verify_provider_token(token, rule)
    # Each provider-JWT request mints a workspace token for the exchange: bounded per subject like every mint.
    enforce(
        "token",
        f"provider:{workspace.key}",
        limit=int(cloud_settings.TOKEN_RATE_LIMIT_REQUESTS),
        window=60,
        what="workspace tokens",
    )
    return Caller.for_workspace(workspace, "provider", exchange_token=mint(workspace))


def _api_key_caller(token: str, meta: dict[str, Any]) -> Caller:
    try:
        key = authenticate_api_key(token)
    except InvalidApiKey as exc:
        raise TokenVerificationError("api-key-invalid", "The API key is invalid or revoked.") from exc
    try:
        workspace = parse_workspace_id(meta.get("HTTP_AUI_WORKSPACE_ID", ""), meta.get("HTTP_AUI_USER_ID", ""))
    except InvalidWorkspaceId as exc:
        raise TokenVerificationError("workspace-invalid", str(exc)) from exc
    return Caller.for_workspace(workspace, "api_key", api_key_id=key.key_id)


def _workspace_token_caller(claims: WorkspaceClaims) -> Caller:
    if claims.anonymous and not cloud_settings.ANONYMOUS_ENABLED:
        raise TokenVerificationError("anonymous-disabled", "Anonymous mode is off.")
    if claims.anonymous and not identity_is_unclaimed(claims.workspace.user_id):
        # Its threads moved to a signed-in workspace: nothing may be written behind them.
        raise TokenVerificationError("anonymous-identity-claimed", "This anonymous identity was claimed.")
    if claims.api_key_id is not None and not api_key_is_active(claims.api_key_id):
        raise TokenVerificationError("api-key-invalid", "The API key that minted this token was revoked.")
    return Caller.for_workspace(
        claims.workspace, "anonymous" if claims.anonymous else "workspace_token", api_key_id=claims.api_key_id
    )
