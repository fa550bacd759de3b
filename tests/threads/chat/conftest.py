from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
import redis

from tests.support.isolation import REDIS_URL
from tests.support.openai_server import OpenAIServer


@pytest.fixture
def chat_on(settings: Any, openai_server: OpenAIServer, dev_issuer_on: None) -> OpenAIServer:
    """The chat endpoint pointed at the loopback upstream, with generous limits unless a test tightens them."""
    settings.CHAT = {
        "OPENAI_API_KEY": "sk-test-server-side",
        "OPENAI_BASE_URL": openai_server.base_url,
        "MODEL": "test-model",
        "DEV_MODEL": False,
        "READ_TIMEOUT_SECONDS": 5.0,
        "KEEPALIVE_SECONDS": 15.0,
        "RATE_LIMIT_REQUESTS": 1000,
        "MAX_CONCURRENT_STREAMS": 10,
        # Connection-owned unless a test asks for server-owned generations (the `resumable` fixture): with a Redis
        # cache the default would be resumable.
        "RESUMABLE": False,
    }
    return openai_server


@pytest.fixture
def post_chat(live_server_url: str, make_token: Callable[..., str]) -> Callable[..., httpx.Response]:
    """POST /api/chat over real HTTP; returns the full (read) response."""

    def _post(body: Any, user: str | None = "user_chat", org: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = kwargs.pop("headers", {})
        if user:
            headers["Authorization"] = f"Bearer {make_token(user, org)}"
        content = body if isinstance(body, bytes) else None
        return httpx.post(
            f"{live_server_url}/api/chat",
            json=None if content is not None else body,
            content=content,
            headers=headers,
            timeout=30,
        )

    return _post


@pytest.fixture
def resumable(settings: Any, chat_on: Any) -> Any:
    """Resumable mode (server-owned generations) on the run's own Redis database (tests/support/isolation.py)."""
    url = REDIS_URL
    redis.Redis.from_url(url).flushdb()
    settings.CHAT = {
        **settings.CHAT,
        "RESUMABLE": True,
        "REDIS_URL": url,
        "LEASE_SECONDS": 2,
        "KEEPALIVE_SECONDS": 0.3,
        "LOG_TTL_SECONDS": 60,
    }
    return chat_on
