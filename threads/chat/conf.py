"""The `CHAT` settings namespace (read lazily, reloaded when tests override `settings.CHAT`)."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from config.appsettings import AppSettings, Setting


def _redis_cache_location() -> str:
    cache = settings.CACHES["default"]
    return str(cache.get("LOCATION", "")) if str(cache.get("BACKEND", "")).endswith("RedisCache") else ""


DEFAULTS: dict[str, Any] = {
    "OPENAI_API_KEY": Setting("", env="OPENAI_API_KEY"),
    "OPENAI_BASE_URL": Setting("", env="OPENAI_BASE_URL"),
    "MODEL": "gpt-4o-mini",
    "TITLE_MODEL": "",
    # A new thread's title asked of the model once its first reply is complete; off: taken from the first
    # message (no model call, no cost). POST /api/threads/{id}/title asks the model either way.
    "MODEL_TITLES": True,
    # The offline development model: on in DEBUG when no OPENAI_API_KEY is set (or forced with CHAT_DEV_MODEL).
    "DEV_MODEL": Setting(lambda: bool(settings.DEBUG)),
    "SYSTEM_PROMPT": "You are a helpful assistant.",
    "MAX_BODY_BYTES": 1024 * 1024,
    "MAX_MESSAGES": 200,
    "MAX_SYSTEM_CHARS": 8000,
    "MAX_OUTPUT_TOKENS": 4096,
    "CONNECT_TIMEOUT_SECONDS": 10.0,
    "READ_TIMEOUT_SECONDS": 60.0,
    "MAX_DURATION_SECONDS": 300,
    "KEEPALIVE_SECONDS": 15.0,
    # Connections to the model provider per worker at most; idle ones are kept 30 s (see threads.chat.upstream).
    "UPSTREAM_MAX_CONNECTIONS": 1000,
    "RATE_LIMIT_REQUESTS": 30,
    "RATE_LIMIT_WINDOW_SECONDS": 60,
    # POST /api/threads/{id}/title calls the model: per user, in the same window.
    "TITLE_RATE_LIMIT_REQUESTS": 10,
    "MAX_CONCURRENT_STREAMS": 3,
    "MAX_STREAM_READERS": 10,
    "DB_CONCURRENCY": 16,
    # How long an idle chat database thread keeps its connection (within DB_CONCURRENCY per worker either way).
    "DB_KEEP_SECONDS": 60.0,
    # On PostgreSQL in resumable mode, a new chat's thread is claimed from the event loop on a connection of its
    # own (one more per worker), so the model request is built while the database answers (threads.chat.loopclaim).
    "CLAIM_ON_LOOP": True,
    # Resumable generations need Redis: on by default when the shared cache is Redis.
    "RESUMABLE": Setting(lambda: bool(_redis_cache_location()), cast=bool),
    "REDIS_URL": Setting(_redis_cache_location),
    # One bounded Redis pool per worker for the chat paths; a caller waits up to the timeout for a connection.
    "REDIS_MAX_CONNECTIONS": 50,
    "REDIS_POOL_TIMEOUT_SECONDS": 30.0,
    "LEASE_SECONDS": 15,
    "LOG_TTL_SECONDS": 600,
}


class ChatSettings(AppSettings):
    """The `CHAT` namespace, plus the values derived from it."""

    @property
    def uses_dev_model(self) -> bool:
        """The offline development model answers when no provider key is configured and it is allowed."""
        return not self.OPENAI_API_KEY and bool(self.DEV_MODEL)


chat_settings = ChatSettings("CHAT", DEFAULTS)
