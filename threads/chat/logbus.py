"""Redis for resumable generations: one bounded connection pool per worker, and one blocking read for all.

Every worker (event loop) has one `BlockingConnectionPool` of `CHAT_REDIS_MAX_CONNECTIONS`: a command that
finds them all busy waits up to `CHAT_REDIS_POOL_TIMEOUT_SECONDS` for one instead of failing, so a burst
queues. Commands are short (XADD, a non-blocking XREAD, EXPIRE): a connection is held for a round trip.

Nobody holds a connection while waiting for chunks. A `LogHub` per worker runs a single `XREAD BLOCK` over
every stream its local subscribers follow (generation logs, stop requests) and wakes them with an
`asyncio.Event` when one has new entries; they then read them with a non-blocking XREAD. A new subscription
to a stream the hub does not follow yet interrupts the blocking read by adding to the hub's own wake stream,
which that read always includes. 500 open streams cost one blocked connection, not 500.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import weakref
from collections.abc import AsyncIterator

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from threads.chat.conf import chat_settings

logger = logging.getLogger(__name__)

HUB_BLOCK_MS = 5000  # the hub's blocking read returns at least this often (cheap: one command per 5 s per worker)
HUB_COUNT = 64  # entries read per stream per round; the hub only needs to know that there are some

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, aioredis.Redis]] = weakref.WeakKeyDictionary()
_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, LogHub]] = weakref.WeakKeyDictionary()


def redis_client() -> aioredis.Redis:
    """This worker's client for CHAT_REDIS_URL, on its bounded, waiting pool (a pool belongs to one event loop)."""
    loop = asyncio.get_running_loop()
    url = chat_settings.REDIS_URL
    per_loop = _clients.setdefault(loop, {})
    if url not in per_loop:
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=max(2, int(chat_settings.REDIS_MAX_CONNECTIONS)),
            timeout=float(chat_settings.REDIS_POOL_TIMEOUT_SECONDS),
            socket_connect_timeout=5,
            health_check_interval=30,
        )
        per_loop[url] = aioredis.Redis(connection_pool=pool)
    return per_loop[url]


def log_hub() -> LogHub:
    loop = asyncio.get_running_loop()
    url = chat_settings.REDIS_URL
    per_loop = _hubs.setdefault(loop, {})
    if url not in per_loop:
        per_loop[url] = LogHub(redis_client())
    return per_loop[url]


class LogHub:
    """One blocking XREAD per worker for every Redis Stream its local readers wait on."""

    def __init__(self, client: aioredis.Redis) -> None:
        self.client = client
        self.wake_key = f"chat:wake:{secrets.token_hex(8)}"
        self._wake_last = "0-0"  # the wake stream is this hub's own: everything in it is a wake-up
        self._positions: dict[str, str] = {}  # stream -> the last entry id the hub has seen
        self._subscribers: dict[str, set[asyncio.Event]] = {}
        self._task: asyncio.Task[None] | None = None

    @property
    def followed(self) -> int:
        return len(self._subscribers)

    @contextlib.asynccontextmanager
    async def subscribe(self, key: str, after: str = "0-0") -> AsyncIterator[asyncio.Event]:
        """An event set whenever `key` gets entries (the first time for any after `after`). Read them yourself:
        subscribe first, then clear the event before each read, so no entry can slip between read and wait."""
        event = asyncio.Event()
        new = key not in self._subscribers
        self._subscribers.setdefault(key, set()).add(event)
        if new:
            self._positions[key] = after
        try:
            if self._task is None or self._task.done():
                self._task = asyncio.create_task(self._run())
            elif new:
                await self._wake()
            yield event
        finally:
            subscribers = self._subscribers.get(key)
            if subscribers is not None:
                subscribers.discard(event)
                if not subscribers:
                    del self._subscribers[key]
                    self._positions.pop(key, None)

    async def _wake(self) -> None:
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.xadd(self.wake_key, {"w": "1"}, maxlen=16, approximate=True)
                pipe.expire(self.wake_key, 3600)
                await pipe.execute()
        except RedisError:
            logger.warning("chat log hub: wake-up failed; the new stream is followed within %s ms", HUB_BLOCK_MS)

    async def _run(self) -> None:
        while self._subscribers:
            streams = {self.wake_key: self._wake_last, **self._positions}
            try:
                response = await self.client.xread(streams, block=HUB_BLOCK_MS, count=HUB_COUNT)
            except Exception as exc:  # the hub must outlive any failure; readers poll meanwhile
                logger.warning("chat log hub: read failed (%s); retrying", exc.__class__.__name__)
                await asyncio.sleep(0.2)
                for subscribers in self._subscribers.values():  # readers re-check for themselves
                    for event in subscribers:
                        event.set()
                continue
            for raw_key, entries in response or ():
                if not entries:
                    continue
                key = raw_key.decode() if isinstance(raw_key, bytes) else raw_key
                last = entries[-1][0]
                last = last.decode() if isinstance(last, bytes) else last
                if key == self.wake_key:
                    self._wake_last = last
                    continue
                if key in self._positions:
                    self._positions[key] = last
                for event in self._subscribers.get(key, ()):
                    event.set()
