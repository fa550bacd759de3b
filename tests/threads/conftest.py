"""Fixtures for the threads API: signed-in clients per workspace and small builders over the API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from chatauth.principal import Workspace


class Api:
    """One signed-in caller talking to the threads API through the DRF test client."""

    def __init__(self, client: APIClient, workspace: Workspace) -> None:
        self.client = client
        self.workspace = workspace

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(path, params or None)

    def post(self, path: str, body: Any = None) -> Any:
        return self.client.post(path, body if body is not None else {}, format="json")

    def patch(self, path: str, body: Any) -> Any:
        return self.client.patch(path, body, format="json")

    def delete(self, path: str) -> Any:
        return self.client.delete(path)

    def new_thread(self, **body: Any) -> dict[str, Any]:
        response = self.post("/api/threads", body)
        assert response.status_code == 201, response.content
        return response.json()

    def append(self, thread_id: str, content: dict[str, Any] | None = None, **body: Any) -> dict[str, Any]:
        payload = {"format": "aui/v0", "content": content or {"role": "user", "content": []}, **body}
        response = self.post(f"/api/threads/{thread_id}/messages", payload)
        assert response.status_code in (200, 201), response.content
        return response.json()


@pytest.fixture
def api_for(client_for: Callable[..., APIClient]) -> Callable[..., Api]:
    """`api_for("user_a", org="org_x")`: the threads API as that workspace."""

    def _api(user: str, org: str | None = None) -> Api:
        return Api(client_for(user, org), Workspace(user_id=user, org_id=org))

    return _api


@pytest.fixture
def alice(api_for: Callable[..., Api]) -> Api:
    return api_for("user_alice")


@pytest.fixture
def bob(api_for: Callable[..., Api]) -> Api:
    return api_for("user_bob")
