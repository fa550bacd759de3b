"""Redis for resumable generations: a bounded connection pool per worker, and one blocking read for all.

Every worker (event loop) has one pool of `CHAT_REDIS_MAX_CONNECTIONS`: a command that finds them all busy
waits (up to `CHAT_REDIS_POOL_TIMEOUT_SECONDS`) for one instead of failing, so a burst queues. Commands are
short (XADD, a non-blocking XREAD, a pipeline): a connection is held for a round trip. The wait is first come,
first served (`FairConnectionPool`): redis-py's own `BlockingConnectionPool` lets a newcomer take a connection
freed while older waiters are still being woken, and sends those waiters to the back of the queue; with 500
generations logging chunks, the few requests that needed one connection to claim their thread waited the full
30 s and failed (5 of 500 in issue 17's run), although no connection was ever leaked.

Nobody holds a connection while waiting for chunks. A `LogHub` per worker runs one `XREAD BLOCK`, on a
connection of its own, over every generation log its local subscribers follow (readers, and owners waiting
for a stop request), and hands what it read to each subscriber's inbox, waking it with an `asyncio.Event`:
500 open streams cost one blocked connection and one read per chunk, not 500 of each. A subscriber that may
have missed entries (it subscribed while the hub was reading further on) reads them itself. A new
subscription interrupts the blocking read by adding to the hub's own wake stream, which that read always
includes (one wake-up for all the streams added before the next read).

A generation's frames are appended to its log by a `LogWriter`: whatever piled up while one pipeline was in
flight goes in the next, so a busy Redis costs fewer round trips, not lost chunks.

The leases of a worker's generations are refreshed together, in one pipeline, by a `LeaseKeeper` on a
connection of its own too, so a busy pool can never let a live generation's lease lapse.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import secrets
import time
import weakref
from collections.abc import AsyncIterator, Callable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError

from config import metrics
from threads.chat.conf import chat_settings

logger = logging.getLogger(__name__)

HUB_BLOCK_MS = 5000  # the hub's blocking read returns at least this often (one command per 5 s per worker)
HUB_COUNT = 512  # entries read per stream per round
# The hub's read waits up to HUB_BLOCK_MS on the server, then for the reply on a busy event loop: its socket
# timeout must outlast both (redis-py's default, 5 s, equal to the block, cut the read off now and then).
HUB_SOCKET_TIMEOUT_SECONDS = HUB_BLOCK_MS / 1000 + 10

Entry = tuple[Any, dict[bytes, bytes]]

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Any]] = weakref.WeakKeyDictionary()


def _per_loop(name: str, make: Any, url: str | None = None) -> Any:
    url = chat_settings.REDIS_URL if url is None else url
    per_loop = _clients.setdefault(asyncio.get_running_loop(), {})
    key = f"{name}:{url}"
    if key not in per_loop:
        per_loop[key] = make(url)
    return per_loop[key]


class FairConnectionPool(aioredis.ConnectionPool):
    """A bounded pool whose callers get connections in the order they asked, each waiting at most `wait_timeout`.

    A FIFO semaphore of `max_connections` permits stands in front of redis-py's pool: asyncio's semaphore never
    lets a newcomer pass a waiter, so no caller can be overtaken forever. Every connection handed out holds
    one permit until it comes back (`release`), so there are never more than `max_connections` open.
    """

    def __init__(self, *, wait_timeout: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.wait_timeout = wait_timeout
        self._permits = asyncio.Semaphore(self.max_connections)
        self._permitted: set[int] = set()  # ids of the connections holding a permit

    async def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        if self._permits.locked():
            started = time.monotonic()
            try:
                async with asyncio.timeout(self.wait_timeout):
                    await self._permits.acquire()
            except TimeoutError as exc:
                metrics.redis_pool_wait(time.monotonic() - started, timed_out=True)
                raise RedisConnectionError("No connection available.") from exc
            metrics.redis_pool_wait(time.monotonic() - started)
        else:
            await self._permits.acquire()
        try:
            connection = await super().get_connection(*args, **kwargs)
        except BaseException:
            self._permits.release()
            raise
        self._permitted.add(id(connection))
        return connection

    async def release(self, connection: Any) -> None:
        try:
            await super().release(connection)
        finally:
            if id(connection) in self._permitted:
                self._permitted.discard(id(connection))
                self._permits.release()


def _client(url: str, max_connections: int, socket_timeout: float | None = None) -> aioredis.Redis:
    options: dict[str, Any] = {"socket_connect_timeout": 5, "health_check_interval": 30}
    if socket_timeout is not None:
        options["socket_timeout"] = socket_timeout
    pool = FairConnectionPool.from_url(
        url,
        max_connections=max_connections,
        wait_timeout=float(chat_settings.REDIS_POOL_TIMEOUT_SECONDS),
        **options,
    )
    return aioredis.Redis(connection_pool=pool)


def redis_client() -> aioredis.Redis:
    """This worker's client for CHAT_REDIS_URL, on its bounded, waiting pool (a pool belongs to one event loop)."""
    return _per_loop("pool", lambda url: _client(url, max(1, int(chat_settings.REDIS_MAX_CONNECTIONS))))


def shared_cache_client() -> aioredis.Redis | None:
    """An async client on the shared cache's Redis (where Django's cache writes), on a bounded pool of its own,
    for the chat's admission (rate count and stream slot in one script, no thread hop); None when the cache is
    not Django's Redis backend given by URL alone (then the cache's own client is used, in a thread)."""
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    backend = caches["default"]
    if not isinstance(backend, RedisCache) or backend._options:
        return None
    primary = backend._servers[0]
    return _per_loop("cache", lambda url: _client(url, max(1, int(chat_settings.REDIS_MAX_CONNECTIONS))), primary)


@functools.cache
def _script_sha(script: str) -> str:
    return hashlib.sha1(script.encode(), usedforsecurity=False).hexdigest()  # Redis names scripts by SHA-1


async def run_script(client: aioredis.Redis, script: str, numkeys: int, *keys_and_args: Any) -> Any:
    """`EVAL script`, sent as `EVALSHA`: the script's text crosses the wire (and is hashed by Redis) only when this
    Redis has not cached it yet (a restart, a `SCRIPT FLUSH`), not on every call. The admission script is over 1 KB."""
    try:
        return await client.evalsha(_script_sha(script), numkeys, *keys_and_args)
    except NoScriptError:
        return await client.eval(script, numkeys, *keys_and_args)


def log_hub() -> LogHub:
    return _per_loop("hub", lambda url: LogHub(_client(url, 1, HUB_SOCKET_TIMEOUT_SECONDS), redis_client()))


def lease_keeper() -> LeaseKeeper:
    return _per_loop("leases", lambda url: LeaseKeeper(_client(url, 1)))


def stream_id(value: Any) -> tuple[int, int]:
    text = value.decode() if isinstance(value, bytes) else str(value)
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


class Subscription:
    """What the hub read for one subscriber: batches of entries, each read from just after some id."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.inbox: list[tuple[tuple[int, int], list[Entry]]] = []

    def deliver(self, start: tuple[int, int], entries: list[Entry]) -> None:
        self.inbox.append((start, entries))
        self.event.set()

    def take(self, last: Any) -> list[Entry] | None:
        """The delivered entries after `last`; None when some may be missing (read them yourself)."""
        position = stream_id(last)
        out: list[Entry] = []
        batches, self.inbox = self.inbox, []
        for start, entries in batches:
            if start > position:
                return None
            for entry in entries:
                entry_position = stream_id(entry[0])
                if entry_position > position:
                    out.append(entry)
                    position = entry_position
        return out


class LogHub:
    """One blocking XREAD per worker for every Redis Stream its local readers wait on."""

    def __init__(self, blocking: aioredis.Redis, client: aioredis.Redis) -> None:
        self.blocking = blocking  # a connection of its own: the blocking read never waits for the pool
        self.client = client
        self.wake_key = f"chat:wake:{secrets.token_hex(8)}"
        self._wake_last = "0-0"  # the wake stream is this hub's own: everything in it is a wake-up
        self._positions: dict[str, tuple[int, int]] = {}  # stream -> the last entry id the hub has read
        self._subscribers: dict[str, set[Subscription]] = {}
        self._task: asyncio.Task[None] | None = None
        self._wake_pending = False

    @property
    def followed(self) -> int:
        return len(self._subscribers)

    def seen(self, key: str, last: Any) -> None:
        """A subscriber has read `key` up to `last` itself: the hub need not read that part again."""
        if key in self._positions:
            self._positions[key] = max(self._positions[key], stream_id(last))

    @contextlib.asynccontextmanager
    async def subscribe(self, key: str) -> AsyncIterator[Subscription]:
        """Entries of `key` delivered as they come (from the first one the first time the hub reads it).
        Subscribe, then read what is there already; `take` whatever the hub delivers after that."""
        subscription = Subscription()
        new = key not in self._subscribers
        self._subscribers.setdefault(key, set()).add(subscription)
        if new:
            self._positions[key] = (0, 0)
        try:
            if self._task is None or self._task.done():
                self._task = asyncio.create_task(self._run())
            elif new and not self._wake_pending:  # one wake-up covers every stream added before the next read
                self._wake_pending = True
                await self._wake()
            yield subscription
        finally:
            subscribers = self._subscribers.get(key)
            if subscribers is not None:
                subscribers.discard(subscription)
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
            self._wake_pending = False
            streams: dict[Any, Any] = {self.wake_key: self._wake_last}
            streams.update({key: f"{ms}-{seq}" for key, (ms, seq) in self._positions.items()})
            try:
                response = await self.blocking.xread(streams, block=HUB_BLOCK_MS, count=HUB_COUNT)
            except Exception as exc:  # the hub must outlive any failure; readers poll meanwhile
                logger.warning("chat log hub: read failed (%s: %s); retrying", exc.__class__.__name__, exc)
                await asyncio.sleep(0.2)
                for subscribers in self._subscribers.values():
                    for subscription in subscribers:
                        subscription.event.set()
                continue
            for raw_key, entries in response or ():
                if not entries:
                    continue
                key = raw_key.decode() if isinstance(raw_key, bytes) else raw_key
                if key == self.wake_key:
                    last = entries[-1][0]
                    self._wake_last = last.decode() if isinstance(last, bytes) else last
                    continue
                start = self._positions.get(key)
                if start is None:
                    continue
                self._positions[key] = max(start, stream_id(entries[-1][0]))
                for subscription in self._subscribers.get(key, ()):
                    subscription.deliver(start, entries)


class LeaseKeeper:
    """Refreshes the leases (`chat:active:{thread}`) of this worker's running generations, all in one pipeline."""

    def __init__(self, client: aioredis.Redis) -> None:
        self.client = client
        self._leases: dict[str, int] = {}  # key -> holders on this worker
        self._task: asyncio.Task[None] | None = None

    @contextlib.contextmanager
    def holding(self, key: str) -> Any:
        self._leases[key] = self._leases.get(key, 0) + 1
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
        try:
            yield
        finally:
            self._leases[key] -= 1
            if not self._leases[key]:
                del self._leases[key]

    async def _run(self) -> None:
        while self._leases:
            await asyncio.sleep(max(chat_settings.LEASE_SECONDS / 3, 0.2))
            keys = list(self._leases)
            if not keys:
                continue
            try:
                async with self.client.pipeline(transaction=False) as pipe:
                    for key in keys:
                        pipe.expire(key, chat_settings.LEASE_SECONDS)
                    await pipe.execute()
            except Exception as exc:
                logger.warning("chat leases: refresh failed (%s); retrying", exc.__class__.__name__)


class LogWriter:
    """Appends a generation's frames to its log in order, in batches: whatever piled up while the previous
    batch was in flight goes in one round trip (one pool connection for many chunks when Redis is busy).
    A failed batch is retried, so a slow or briefly unreachable Redis delays chunks instead of losing them.

    `sent` is handed each batch once its entries have left for Redis (written to the connection), before Redis
    has answered: a reader fed from it (the request that started the generation) never sees a chunk that is not
    on its way into the log, so a reload after this worker died replays all it had on screen (the bytes of a
    process killed after writing them still reach Redis). Waiting for Redis's answer as well put a round trip
    (0.5-0.7 ms here) in front of every chunk the user watched, for no stronger promise about a crash. A batch
    retried after its entries left is not handed on twice."""

    def __init__(self, client: Any, log: str, sent: Callable[[list[bytes]], None]) -> None:
        self.client = client
        self.log = log
        self.sent = sent
        self.pending: list[bytes] = []
        self.handed = 0  # frames handed to `sent` so far (the first `handed` of all the frames written)
        self.logged = 0  # frames Redis holds so far: `pending` holds the frames after those
        self.flushing: asyncio.Task[None] | None = None
        self.expiry_set = False

    def write(self, frame: bytes) -> None:
        self.pending.append(frame)
        if self.flushing is None or self.flushing.done():
            self.flushing = asyncio.create_task(self._flush())

    async def _flush(self) -> None:
        failures = 0
        while self.pending:
            batch, self.pending = self.pending, []
            try:
                await self._append(batch)
                failures = 0
            except RedisError as exc:
                failures += 1
                if failures > 20:
                    logger.error("chat log: %s chunks could not be logged (%s)", len(batch), exc.__class__.__name__)
                    self._hand_on(batch)  # the reader in process still gets them; readers of the log see a gap
                    self.logged += len(batch)
                    continue
                self.pending[:0] = batch
                await asyncio.sleep(min(0.1 * failures, 2))

    async def _append(self, batch: list[bytes]) -> None:
        """One round trip: the batch's XADDs (and the log's expiry, once), handed on once written."""
        commands: list[tuple[Any, ...]] = [("XADD", self.log, "*", "d", frame) for frame in batch]
        if not self.expiry_set:
            # Bounded from the first chunk: a log whose owner crashes and nobody reads still goes.
            commands.append(("EXPIRE", self.log, chat_settings.MAX_DURATION_SECONDS + chat_settings.LOG_TTL_SECONDS))
        pool = self.client.connection_pool
        connection = await pool.get_connection()
        try:
            await connection.send_packed_command(connection.pack_commands(commands))
            self._hand_on(batch)
            for _ in commands:
                await connection.read_response()
        except BaseException:
            await connection.disconnect()
            raise
        finally:
            await pool.release(connection)
        self.expiry_set = True
        self.logged += len(batch)

    def _hand_on(self, batch: list[bytes]) -> None:
        """Hand on the frames of `batch` (the frames after `logged`) not handed on before (a retried batch)."""
        new = batch[max(0, self.handed - self.logged) :]
        if new:
            self.handed += len(new)
            self.sent(new)

    async def drain(self) -> None:
        while self.flushing is not None and not self.flushing.done():
            await asyncio.shield(self.flushing)
