"""Fixtures for /v1, shared by tests/chatauth/cloud (credentials) and tests/threads/cloud (the API).

Explicit signing keys, workspace-token clients, API keys, a provider rule.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from chatauth.caller import Workspace
from tests.support.jwks_server import JwksServer

KEY_A = {"kid": "ws-key-a", "secret": "a" * 24 + "-secret-for-tests-only-A"}
KEY_B = {"kid": "ws-key-b", "secret": "b" * 24 + "-secret-for-tests-only-B"}
PROVIDER_ISSUER = "https://clerk.provider.test"


@pytest.fixture
def cloud(settings: Any) -> dict[str, Any]:
    """CLOUD settings for tests: one explicit key, anonymous mode on, a CORS origin."""
    settings.CLOUD = {
        "SIGNING_KEYS": [KEY_A],
        "ANONYMOUS_ENABLED": True,
        "CORS_ALLOWED_ORIGINS": ["http://app.example.test"],
    }
    return settings.CLOUD


@pytest.fixture
def ws_client(cloud: dict[str, Any]) -> Callable[..., APIClient]:
    """`ws_client("user_a", org="org_x")`: an APIClient sending a fresh workspace token for that workspace."""
    from chatauth.cloud.tokens import mint

    def _client(user: str, org: str | None = None) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {mint(Workspace(user, org))}")
        return client

    return _client


@pytest.fixture
def alice_ws(ws_client: Callable[..., APIClient]) -> APIClient:
    """user_alice in org_1 on the /v1 API, with a workspace token (not to be confused with tests/threads' `alice`,
    the /api/threads API with a Clerk session token)."""
    return ws_client("user_alice", "org_1")


@pytest.fixture
def bob_ws(ws_client: Callable[..., APIClient]) -> APIClient:
    """user_bob in the same org_1 as `alice_ws`: another workspace of the same organization."""
    return ws_client("user_bob", "org_1")


@pytest.fixture
def api_key(db: None, cloud: dict[str, Any]) -> tuple[Any, str]:
    from chatauth.cloud.apikeys import create_api_key

    return create_api_key("tests")


@pytest.fixture
def provider_rule(db: None, cloud: dict[str, Any], jwks_server: JwksServer) -> Any:
    from chatauth.models import AuthRule

    return AuthRule.objects.create(
        name="Clerk template",
        provider="clerk",
        issuer=PROVIDER_ISSUER,
        jwks_url=jwks_server.url,
        audience="assistant-ui",
        org_id_claim="org_id",
        # A JWT template of this deployment's own Clerk instance: mapped onto Clerk's users on purpose.
        shares_clerk_users=True,
    )
