"""Per-user request rate and concurrent-stream limits, kept in the shared cache so every worker agrees.

The request rate limits are `config.ratelimit`'s sliding windows (exact at window boundaries).

A stream holds one of N slot keys (per user and per kind: generations, resumed-stream readers), each with a
TTL of the longest allowed stream, so a slot held by a worker that died frees itself. A slot has exactly one
owner at a time:

    async with acquire_slot(user_id, GENERATIONS) as lease:   # LimitExceeded when all N are taken
        ...                                                   # any exit from here releases the slot
        owned = lease.transfer()                              # ...unless it was handed over: then `owned`
    ...                                                       # is the only handle, and its holder releases it

`OwnedSlot.release()` is idempotent, and `transfer()` works once, so no path can release a slot twice or
release another stream's slot (a release also checks the key still holds this slot's token).
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.core.cache import cache, caches
from django.core.cache.backends.locmem import LocMemCache

from config.ratelimit import Limited, hit
from threads.chat.conf import chat_settings

T = TypeVar("T")


async def in_cache_thread(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """A call to the (sync) shared cache, off the event loop. Not thread-sensitive: a slot may be released by
    a generation that outlived its request (and the request's thread), and the cache client is thread-safe.

    The local-memory cache (development, single-process) does no I/O: it is called in place, since a hop to
    an executor thread and back costs far more than the dictionary operation it would wrap."""
    if isinstance(caches["default"], LocMemCache):
        return fn(*args, **kwargs)
    return await sync_to_async(fn, thread_sensitive=False)(*args, **kwargs)


class LimitExceeded(Exception):
    """All of the user's slots of a kind are taken."""

    def __init__(self, limited: Limited) -> None:
        super().__init__(limited.message)
        self.limited = limited


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


@dataclass(frozen=True)
class SlotKind:
    """A per-user budget of concurrent streams: its cache-key prefix, its setting and what a refusal says."""

    prefix: str
    setting: str
    refusal: str

    @property
    def limit(self) -> int:
        return max(0, int(getattr(chat_settings, self.setting)))


GENERATIONS = SlotKind(
    "chat:slot", "MAX_CONCURRENT_STREAMS", "Too many chat streams at once: at most {n}. Wait for a reply to finish."
)
READERS = SlotKind(
    "chat:reader",
    "MAX_STREAM_READERS",
    "Too many resumed streams open at once: at most {n}. Close a tab or wait for a reply to finish.",
)


class OwnedSlot:
    """A taken slot and the only handle on it: whoever holds it releases it, once."""

    def __init__(self, key: str, token: str) -> None:
        self.key = key
        self.token = token
        self._held = True

    @property
    def held(self) -> bool:
        return self._held

    def _release_sync(self) -> None:
        if cache.get(self.key) == self.token:  # expired and taken by another stream meanwhile: not ours
            cache.delete(self.key)

    async def release(self) -> None:
        if not self._held:
            return
        self._held = False
        await asyncio.shield(in_cache_thread(self._release_sync))


class SlotLease:
    """The acquiring code's hold on a slot, inside `acquire_slot`: released on exit unless transferred."""

    def __init__(self, slot: OwnedSlot) -> None:
        self._slot: OwnedSlot | None = slot

    def transfer(self) -> OwnedSlot:
        """Hand the slot over: the caller now holds the only handle and must see that it is released."""
        if self._slot is None:
            raise RuntimeError("this slot was already handed over")
        slot, self._slot = self._slot, None
        return slot

    async def _end(self) -> None:
        if self._slot is not None:
            slot, self._slot = self._slot, None
            await slot.release()


def _take(user_id: str, kind: SlotKind) -> OwnedSlot:
    token = secrets.token_hex(8)
    ttl = int(chat_settings.MAX_DURATION_SECONDS) + 30
    user = _user_key(user_id)
    for index in range(kind.limit):
        key = f"{kind.prefix}:{user}:{index}"
        if cache.add(key, token, timeout=ttl):
            return OwnedSlot(key, token)
    raise LimitExceeded(Limited(5, kind.refusal.format(n=kind.limit)))


def _admit(user_id: str, kind: SlotKind, counting: str | None) -> OwnedSlot:
    if counting is not None:
        limited = check_rate(user_id, scope=counting)
        if limited:
            raise LimitExceeded(limited)
    return _take(user_id, kind)


@asynccontextmanager
async def acquire_slot(
    user_id: str, kind: SlotKind = GENERATIONS, *, counting: str | None = None
) -> AsyncIterator[SlotLease]:
    """One of the user's slots of this kind for the body of the `async with`, or `LimitExceeded`.

    With `counting` (a `check_rate` scope), one request of that scope is counted first, in the same trip to the
    shared cache (one thread hop, not two, before the model is called); over its budget is `LimitExceeded` too.
    """
    lease = SlotLease(await in_cache_thread(_admit, user_id, kind, counting))
    try:
        yield lease
    finally:
        await lease._end()
