"""Provider JWTs on /v1: a token from an auth provider (e.g. a Clerk JWT template with `aud: "assistant-ui"`).

The rule is chosen by the token's exact `iss`; the token is verified against that rule's JWKS (fetched and
cached through `chatauth.keys.remote_source`, shared by all workers) with the rule's issuer and audience.
Unlike session tokens, an audience is mandatory here: a token without the rule's `aud` is refused.
"""

from __future__ import annotations

from typing import Any

from chatauth.caller import InvalidWorkspaceId, Workspace, namespaced
from chatauth.cloud.conf import cloud_settings
from chatauth.jwt import VERIFICATION_FAILED, ClaimPolicy, TokenVerificationError, verify_jwt
from chatauth.keys import remote_source
from chatauth.models import AuthRule

NO_RULE = "token-no-auth-rule"


def rule_for_issuer(issuer: Any) -> AuthRule | None:
    if not isinstance(issuer, str) or not issuer:
        return None
    return AuthRule.objects.filter(issuer=issuer, enabled=True).first()


def _claim(claims: dict[str, Any], path: str) -> Any:
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def verify_provider_token(token: str, rule: AuthRule, *, now: float | None = None) -> Workspace:
    """The workspace a provider JWT names, or `TokenVerificationError`."""
    source = remote_source(
        rule.jwks_url,
        ttl=int(cloud_settings.JWKS_CACHE_TTL_SECONDS),
        refresh_interval=int(cloud_settings.JWKS_REFRESH_INTERVAL_SECONDS),
        timeout=float(cloud_settings.JWKS_TIMEOUT_SECONDS),
    )
    options = ClaimPolicy(
        issuer=rule.issuer,
        audience=tuple(rule.audiences),
        audience_required=True,
        clock_skew=float(cloud_settings.CLOCK_SKEW_SECONDS),
        max_token_bytes=int(cloud_settings.MAX_TOKEN_BYTES),
    )
    claims = verify_jwt(token, source, options, now=now)
    try:
        user = namespaced(rule.namespace, _claim(claims, rule.user_id_claim or "sub"), f"claim {rule.user_id_claim}")
        org = _claim(claims, rule.org_id_claim) if rule.org_id_claim else None
        return Workspace(
            user_id=user, org_id=namespaced(rule.namespace, org, f"claim {rule.org_id_claim}") if org else None
        )
    except InvalidWorkspaceId as exc:
        raise TokenVerificationError(VERIFICATION_FAILED, str(exc)) from exc
