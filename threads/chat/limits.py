"""Per-user request rate and concurrent-stream limits, kept in the shared cache so every worker agrees.

The rate limit is a fixed-window counter (`cache.add` + `cache.incr`, atomic on Redis). A stream holds
one of N slot keys, each with a TTL of the longest allowed generation, so a slot held by a worker that
died frees itself.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from dataclasses import dataclass

from django.core.cache import cache

from threads.chat.conf import chat_settings


@dataclass(frozen=True)
class Limited:
    retry_after: int
    message: str


def _user_key(user_id: str) -> str:
    return hashlib.sha256(user_id.encode()).hexdigest()[:32]


def check_rate(user_id: str) -> Limited | None:
    """Count this request; `Limited` when the user is over the window's budget."""
    window = max(1, int(chat_settings.RATE_LIMIT_WINDOW_SECONDS))
    now = time.time()
    index = int(now // window)
    key = f"chat:rate:{_user_key(user_id)}:{index}"
    cache.add(key, 0, timeout=window + 5)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=window + 5)
        count = 1
    if count > chat_settings.RATE_LIMIT_REQUESTS:
        retry_after = max(1, math.ceil((index + 1) * window - now))
        return Limited(
            retry_after,
            f"Too many chat requests: at most {chat_settings.RATE_LIMIT_REQUESTS} "
            f"per {window} s. Retry in {retry_after} s.",
        )
    return None


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
