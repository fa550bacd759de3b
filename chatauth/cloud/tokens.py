"""Workspace tokens: short-lived JWTs this service signs, naming one workspace.

Every token carries the `kid` of the key that signed it. Keys come from settings (`CLOUD["SIGNING_KEYS"]`):
the first signs, all verify, so a key is rotated by adding a new one in front, deploying, and removing
the old one after a token lifetime. Nothing lives in process memory but parsed settings, so every worker
verifies every other worker's tokens.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jwt

from chatauth.caller import ANONYMOUS_PREFIX, InvalidWorkspaceId, Workspace, check_id
from chatauth.cloud.conf import SigningKey, cloud_settings
from chatauth.jwt import INVALID, ClaimPolicy, TokenVerificationError, check_claims, decode_unverified, signing_input

TOKEN_USE = "workspace"
NBF_BACKDATE_SECONDS = 10


@dataclass(frozen=True, slots=True)
class WorkspaceClaims:
    """What a verified workspace token grants."""

    workspace: Workspace
    anonymous: bool = False
    api_key_id: str | None = None
    expires_at: float = 0.0


@lru_cache(maxsize=8)
def _format_regex(fmt: str) -> tuple[re.Pattern[str], str]:
    names = re.findall(r"\{(\w+)\}", fmt)
    if names.count("user_id") != 1 or len(names) != 2:
        raise InvalidWorkspaceId("CLOUD WORKSPACE_ID_FORMAT needs {user_id} and exactly one group placeholder")
    group = next(n for n in names if n != "user_id")
    pattern = "".join(
        f"(?P<{part[1:-1]}>[A-Za-z0-9_.@+\\-]{{1,128}})" if re.fullmatch(r"\{\w+\}", part) else re.escape(part)
        for part in re.split(r"(\{\w+\})", fmt)
        if part
    )
    return re.compile(f"^{pattern}$"), group


def workspace_id_of(workspace: Workspace) -> str:
    """The workspace id as clients see it: `user_id`, or the configured format when there is a group."""
    if not workspace.org_id:
        return workspace.user_id
    _, group = _format_regex(cloud_settings.WORKSPACE_ID_FORMAT)
    return cloud_settings.WORKSPACE_ID_FORMAT.format(**{"user_id": workspace.user_id, group: workspace.org_id})


def parse_workspace_id(workspace_id: str, user_id: str) -> Workspace:
    """`Aui-Workspace-Id` + `Aui-User-Id` to a workspace; the user id must be the one the workspace id names."""
    user = check_id(user_id, "Aui-User-Id")
    if workspace_id == user:
        return Workspace(user_id=user)
    regex, group = _format_regex(cloud_settings.WORKSPACE_ID_FORMAT)
    match = regex.match(workspace_id or "")
    if match is None or match["user_id"] != user:
        raise InvalidWorkspaceId(
            f"Aui-Workspace-Id must be the user id or {cloud_settings.WORKSPACE_ID_FORMAT!r} with the same user id"
        )
    return Workspace(user_id=user, org_id=check_id(match[group], "workspace group id"))


def _signer() -> SigningKey:
    return cloud_settings.signing_keys[0]


def mint(
    workspace: Workspace,
    *,
    anonymous: bool = False,
    api_key_id: str | None = None,
    now: float | None = None,
    ttl: int | None = None,
) -> str:
    """A signed workspace token (`exp = iat + TTL`, `nbf = iat - 10 s`), as the hosted service issues them."""
    issued = int(time.time() if now is None else now)
    lifetime = int(cloud_settings.TOKEN_TTL_SECONDS if ttl is None else ttl)
    claims: dict[str, Any] = {
        "iss": cloud_settings.TOKEN_ISSUER,
        "sub": workspace.user_id,
        "workspace_id": workspace_id_of(workspace),
        "project_id": cloud_settings.PROJECT_ID,
        "token_use": TOKEN_USE,
        "iat": issued,
        "nbf": issued - NBF_BACKDATE_SECONDS,
        "exp": issued + lifetime,
    }
    if workspace.org_id:
        claims["org_id"] = workspace.org_id
    if anonymous:
        claims["anon"] = True
    if api_key_id:
        claims["akid"] = api_key_id
    key = _signer()
    return jwt.encode(claims, key.signing_key, algorithm=key.algorithm, headers={"kid": key.kid, "typ": "JWT"})


def looks_like_workspace_token(header: dict[str, Any], payload: dict[str, Any]) -> bool:
    """Cheap routing test on unverified parts: our issuer and one of our kids."""
    kid = header.get("kid")
    return payload.get("iss") == cloud_settings.TOKEN_ISSUER and any(k.kid == kid for k in cloud_settings.signing_keys)


_ALGORITHMS = {
    "HS256": jwt.algorithms.HMACAlgorithm(jwt.algorithms.HMACAlgorithm.SHA256),
    "RS256": jwt.algorithms.RSAAlgorithm(jwt.algorithms.RSAAlgorithm.SHA256),
}


def verify(token: str, *, now: float | None = None) -> WorkspaceClaims:
    """Verify signature (key chosen by `kid`, algorithm pinned to that key), lifetime and claims."""
    header, payload, signature = decode_unverified(token, int(cloud_settings.MAX_TOKEN_BYTES))
    return verify_decoded(token, header, payload, signature, now=now)


def verify_decoded(
    token: str, header: dict[str, Any], claims: dict[str, Any], signature: bytes, *, now: float | None = None
) -> WorkspaceClaims:
    """`verify` for a token already split by `chatauth.jwt.decode_unverified` (so it is parsed once)."""
    kid = header.get("kid")
    key = next((k for k in cloud_settings.signing_keys if k.kid == kid), None) if isinstance(kid, str) else None
    if key is None:
        raise TokenVerificationError("jwk-kid-mismatch", "The token was not signed by a current workspace-token key.")
    if header.get("alg") != key.algorithm:
        raise TokenVerificationError("token-invalid-algorithm", f"Workspace tokens with this kid use {key.algorithm}.")
    if not _ALGORITHMS[key.algorithm].verify(signing_input(token), key.verifying_key, signature):
        raise TokenVerificationError("token-invalid-signature", "JWT signature is invalid.")
    policy = ClaimPolicy(
        issuer=cloud_settings.TOKEN_ISSUER,
        clock_skew=float(cloud_settings.CLOCK_SKEW_SECONDS),
        require_times=True,
        # Tokens are valid from iat - 10 s, as the hosted service issues them.
        iat_leeway=NBF_BACKDATE_SECONDS,
        # A token living longer than we ever issue was not minted by this configuration.
        max_lifetime=max(int(cloud_settings.TOKEN_TTL_SECONDS), 1),
        malformed_reason=INVALID,
    )
    check_claims(claims, policy, now=time.time() if now is None else now)
    if claims.get("token_use") != TOKEN_USE:
        raise TokenVerificationError("token-invalid", "Not a workspace token.")
    try:
        anonymous = claims.get("anon") is True
        user = check_id(claims.get("sub"), "sub", allow_anonymous=anonymous, allow_namespaced=True)
        org = claims.get("org_id")
        org_id = check_id(org, "org_id", allow_namespaced=True) if org is not None else None
        workspace = Workspace(user_id=user, org_id=org_id)
    except InvalidWorkspaceId as exc:
        raise TokenVerificationError("token-invalid", str(exc)) from exc
    if anonymous != user.startswith(ANONYMOUS_PREFIX) or (anonymous and workspace.org_id):
        raise TokenVerificationError("token-invalid", "Inconsistent anonymous workspace claims.")
    if claims.get("workspace_id") != workspace_id_of(workspace):
        raise TokenVerificationError("token-invalid", "The workspace_id claim does not match sub/org_id.")
    akid = claims.get("akid")
    return WorkspaceClaims(
        workspace=workspace,
        anonymous=anonymous,
        api_key_id=akid if isinstance(akid, str) else None,
        expires_at=float(claims["exp"]),
    )
