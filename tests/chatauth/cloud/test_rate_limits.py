"""Endpoints that create identities or mint tokens are rate limited per address or credential (429 + Retry-After)."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from chatauth.models import AnonymousIdentity

pytestmark = pytest.mark.django_db


def test_anonymous_identities_are_limited_per_address(cloud: dict[str, Any], settings: Any) -> None:
    settings.CLOUD = {**cloud, "ANONYMOUS_RATE_LIMIT_REQUESTS": 3}
    statuses = [APIClient().post("/v1/auth/tokens/anonymous").status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    assert AnonymousIdentity.objects.count() == 3
    refused = APIClient().post("/v1/auth/tokens/anonymous")
    assert refused.json()["error"] == "rate_limited" and int(refused["Retry-After"]) >= 1
    other = APIClient().post("/v1/auth/tokens/anonymous", REMOTE_ADDR="10.9.9.9")
    assert other.status_code == 200


def test_api_key_token_exchange_is_limited_per_key(cloud: dict[str, Any], settings: Any, api_key: Any) -> None:
    settings.CLOUD = {**cloud, "TOKEN_RATE_LIMIT_REQUESTS": 2}
    _, raw = api_key
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}", HTTP_AUI_USER_ID="user_a", HTTP_AUI_WORKSPACE_ID="user_a")
    assert [client.post("/v1/auth/tokens").status_code for _ in range(3)] == [200, 200, 429]


def test_backend_tokens_for_a_clerk_user_are_limited(cloud: dict[str, Any], settings: Any, client_for: Any) -> None:
    settings.CLOUD = {**cloud, "TOKEN_RATE_LIMIT_REQUESTS": 2}
    client = client_for("user_minty")
    assert [client.post("/api/assistant-ui-token").status_code for _ in range(3)] == [200, 200, 429]


def test_an_anonymous_identity_stores_a_bounded_number_of_threads_and_messages(cloud, settings) -> None:
    settings.CLOUD = {**cloud, "ANONYMOUS_MAX_THREADS": 2, "ANONYMOUS_MAX_MESSAGES": 3}
    token = APIClient().post("/v1/auth/tokens/anonymous").json()["access_token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    created = [client.post("/v1/threads", {}, format="json") for _ in range(3)]
    assert [r.status_code for r in created] == [201, 201, 403]
    assert created[2].json()["error"] == "quota_exceeded" and "sign in" in created[2].json()["message"]
    thread_id = created[0].json()["thread_id"]
    body = {"parent_id": None, "format": "aui/v0", "content": {}}
    statuses = [client.post(f"/v1/threads/{thread_id}/messages", body, format="json").status_code for _ in range(4)]
    assert statuses == [201, 201, 201, 403]
