"""Per-user request rate and concurrent-stream limits, kept in the shared cache so every worker agrees.

The request rate limits are `config.ratelimit`'s sliding windows (exact at window boundaries). A stream holds
one of N slot keys, each with a TTL of the longest allowed generation, so a slot held by a worker that
died frees itself.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from django.core.cache import cache

from config.ratelimit import Limited, hit
from threads.chat.conf import chat_settings


def _user_key(user_id: str) -> str:
    return hashlib.sha256(user_id.encode()).hexdigest()[:32]


def check_rate(user_id: str, *, scope: str = "chat") -> Limited | None:
    """Count one request of `scope` for the user; `Limited` when over the sliding window's budget.

    `chat` is every chat turn; `title` (POST /api/threads/{id}/title) calls the model too, on a smaller budget.
    """
    budget = chat_settings.RATE_LIMIT_REQUESTS if scope == "chat" else chat_settings.TITLE_RATE_LIMIT_REQUESTS
    return hit(
        scope,
        user_id,
        limit=int(budget),
        window=max(1, int(chat_settings.RATE_LIMIT_WINDOW_SECONDS)),
        what=f"{scope} requests",
    )


@dataclass
class StreamSlot:
    key: str
    token: str

    def release(self) -> None:
        if cache.get(self.key) == self.token:
            cache.delete(self.key)


def acquire_stream_slot(user_id: str) -> StreamSlot | Limited:
    """One of the user's MAX_CONCURRENT_STREAMS slots, or `Limited` when all are taken."""
    token = secrets.token_hex(8)
    ttl = int(chat_settings.MAX_DURATION_SECONDS) + 30
    user = _user_key(user_id)
    for index in range(max(0, int(chat_settings.MAX_CONCURRENT_STREAMS))):
        key = f"chat:slot:{user}:{index}"
        if cache.add(key, token, timeout=ttl):
            return StreamSlot(key, token)
    return Limited(
        5, f"Too many chat streams at once: at most {chat_settings.MAX_CONCURRENT_STREAMS}. Wait for a reply to finish."
    )
