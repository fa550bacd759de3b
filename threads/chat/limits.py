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

With Django's Redis cache, a chat turn's admission (its rate count and its slot) is one Lua script sent from the
event loop (`threads.chat.logbus.shared_cache_client`), under the same keys and values the cache itself reads: one
round trip and no thread hop before the model is called. Another cache takes the same steps through its own
client, in a thread (the local-memory cache in place).
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

from config.ratelimit import SLIDING_WINDOW_LUA, Limited, hit, limited_after, new_member, turned_off, window_key
from threads.chat.conf import chat_settings
from threads.chat.logbus import run_script, shared_cache_client

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


def _budget(scope: str) -> tuple[int, int, str]:
    """(requests allowed, window in seconds, what they are called) of a rate-limit scope."""
    budget = chat_settings.RATE_LIMIT_REQUESTS if scope == "chat" else chat_settings.TITLE_RATE_LIMIT_REQUESTS
    return int(budget), max(1, int(chat_settings.RATE_LIMIT_WINDOW_SECONDS)), f"{scope} requests"


def check_rate(user_id: str, *, scope: str = "chat") -> Limited | None:
    """Count one request of `scope` for the user; `Limited` when over the sliding window's budget.

    `chat` is every chat turn; `title` (POST /api/threads/{id}/title) calls the model too, on a smaller budget.
    """
    limit, window, what = _budget(scope)
    return hit(scope, user_id, limit=limit, window=window, what=what)


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

    def __init__(self, key: str, token: int) -> None:
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
        client = shared_cache_client()
        if client is not None:
            await asyncio.shield(run_script(client, _RELEASE, 1, cache.make_key(self.key), self.token))
        else:
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


# KEYS[1]: the rate log (untouched when ARGV[2] is ''), KEYS[2..]: the user's slot keys of the kind.
# ARGV: window, limit, log member, slot token, slot TTL. Returns 'wait:<seconds>', the slot's index, or -1.
_ADMIT = (
    SLIDING_WINDOW_LUA
    + """
if ARGV[2] ~= '' then
  local wait = sliding_window_hit(KEYS[1], ARGV[1], ARGV[2], ARGV[3])
  if wait ~= '0' then return 'wait:' .. wait end
end
for i = 2, #KEYS do
  if redis.call('SET', KEYS[i], ARGV[4], 'NX', 'EX', tonumber(ARGV[5])) then return i - 2 end
end
return -1
"""
)
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


def _token() -> int:
    """A slot's token. An int: Django's Redis serializer stores ints as they are, so a token the admission script
    wrote reads back through the cache as the same int (and one the cache wrote, through Redis as its digits)."""
    return secrets.randbits(62)


def _slot_ttl() -> int:
    return int(chat_settings.MAX_DURATION_SECONDS) + 30


def _slot_keys(user_id: str, kind: SlotKind) -> list[str]:
    user = _user_key(user_id)
    return [f"{kind.prefix}:{user}:{index}" for index in range(kind.limit)]


def _no_slot(kind: SlotKind) -> LimitExceeded:
    return LimitExceeded(Limited(5, kind.refusal.format(n=kind.limit)))


def _take(user_id: str, kind: SlotKind) -> OwnedSlot:
    token = _token()
    for key in _slot_keys(user_id, kind):
        if cache.add(key, token, timeout=_slot_ttl()):
            return OwnedSlot(key, token)
    raise _no_slot(kind)


async def _admit_in_redis(client: Any, user_id: str, kind: SlotKind, counting: str | None) -> OwnedSlot:
    """`_admit` as one script: the rate count and the slot, in one round trip from the event loop."""
    keys = _slot_keys(user_id, kind)
    argv: list[Any] = ["", "", ""]
    rate_key = cache.make_key("chat:admit:uncounted")  # named only: the script leaves it alone
    limit, window, what = _budget(counting or "chat")
    if counting is not None:
        if limit <= 0:
            raise LimitExceeded(turned_off(what))
        rate_key = cache.make_key(window_key(counting, user_id))
        argv = [window, limit, new_member()]
    token = _token()
    made = [cache.make_key(key) for key in keys]
    result = await run_script(client, _ADMIT, 1 + len(made), rate_key, *made, *argv, token, _slot_ttl())
    if isinstance(result, bytes) and result.startswith(b"wait:"):
        limited = limited_after(counting or "", float(result[5:]), limit=limit, window=window, what=what)
        raise LimitExceeded(limited or Limited(1, "Too many requests."))
    if int(result) < 0:
        raise _no_slot(kind)
    return OwnedSlot(keys[int(result)], token)


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
    shared cache (on Redis one script from the event loop, else one call in a thread); over its budget is
    `LimitExceeded` too, and no slot is taken.
    """
    client = shared_cache_client()
    if client is not None:
        lease = SlotLease(await _admit_in_redis(client, user_id, kind, counting))
    else:
        lease = SlotLease(await in_cache_thread(_admit, user_id, kind, counting))
    try:
        yield lease
    finally:
        await lease._end()
