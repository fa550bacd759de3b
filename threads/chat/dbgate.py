"""The one way the chat endpoints touch the database: `run_db`, on a bounded set of database threads.

Under ASGI every request runs its ORM calls in a thread of its own, and Django closes that thread's
connection only when the response ends. A chat response is a stream that can last minutes: a connection
opened by a lookup before the stream would be held for all of it (120 open resumed streams by one user once
took all of PostgreSQL's connections, and every other request answered 503).

So chat database work runs on this process's own `CHAT_DB_CONCURRENCY` threads, never in a request's
thread: a stream holds no connection, whatever it looked up before streaming, and a process holds at most
`CHAT_DB_CONCURRENCY` connections whatever the load. A burst of new chats queues (chat database work is a
few short queries) instead of failing. An idle database thread keeps its connection for `CHAT_DB_KEEP_SECONDS`
(60): a user's next turn, a minute later, does not pay a new connection (and a new server process) in front of
the model call (4-8 ms on PostgreSQL here, the largest part of a quiet worker's time to first text-delta when it
closed after 50 ms). A kept connection is checked before each use: one the server dropped meanwhile (a restart,
an idle timeout, `pg_terminate_backend`) is replaced, not failed on. On PostgreSQL the check costs no round trip:
a server that ends a session says so (an error message, then the end of the stream), so a dropped connection
has something to read and a healthy idle one has nothing (`_hung_up`, a poll of its socket). The `SELECT 1` it
replaces cost 0.3-0.5 ms in front of a new chat's model call. Other databases are asked (`is_usable`) after
`CHECK_AFTER_SECONDS` of idleness.

On SQLite there is one database thread whatever the setting: SQLite has one writer at a time, and 16 threads
racing for its lock spent most of a burst waiting in `BEGIN` (and a turn that waited past the busy timeout
answered 503 `database_unavailable`: 34 of 200 in `bench/turn.py`). One thread runs them back to back.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import queue
import select
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from asgiref.sync import AsyncToSync, sync_to_async
from django.db import DEFAULT_DB_ALIAS, connections

from threads.chat.conf import chat_settings

T = TypeVar("T")

CHECK_AFTER_SECONDS = 1.0  # idle longer than this, a kept connection (not PostgreSQL's) is asked before use


def release_connections() -> None:
    """Close this thread's database connections (outside a transaction): the next query opens one again."""
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close()


def _drop_broken_connections() -> None:
    for connection in connections.all(initialized_only=True):
        if connection.errors_occurred and not connection.is_usable():
            connection.close()


def hung_up(fileno: int) -> bool:
    """Whether the server has ended the idle PostgreSQL session on this socket: it has something to read (the
    server's goodbye, or the end of the stream), which a healthy idle session never has. A socket that cannot be
    polled counts as ended."""
    try:
        poller = select.poll()
        poller.register(fileno, select.POLLIN | select.POLLPRI)
        return bool(poller.poll(0))
    except Exception:
        return True


def _hung_up(connection: Any) -> bool:
    try:
        return hung_up(connection.connection.fileno())
    except Exception:
        return True


def _drop_dead_connections(idle_seconds: float) -> None:
    """Before a call: close the kept connections the server no longer serves (the next query reconnects)."""
    for connection in connections.all(initialized_only=True):
        if connection.connection is None or connection.in_atomic_block:
            continue
        if connection.vendor == "postgresql":
            dead = _hung_up(connection)
        else:
            dead = idle_seconds > CHECK_AFTER_SECONDS and not connection.is_usable()
        if dead:
            connection.close()


@dataclass
class _Call:
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    context: contextvars.Context
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]

    def run(self) -> Callable[[], None] | None:
        """Run the call; return what settles its future (to be handed to the loop), None if nobody waits."""
        if self.future.cancelled():  # the caller is gone (a client that left): nothing to do
            return None
        try:
            result = self.context.run(self.fn, *self.args, **self.kwargs)
        except BaseException as exc:
            return self._settler(None, exc)
        return self._settler(result, None)

    def _settler(self, result: Any, error: BaseException | None) -> Callable[[], None]:
        def settle() -> None:
            if self.future.done():
                return
            if error is not None:
                self.future.set_exception(error)
            else:
                self.future.set_result(result)

        return settle

    def resolve(self, settle: Callable[[], None]) -> None:
        try:
            self.loop.call_soon_threadsafe(settle)
        except RuntimeError:  # the loop has closed meanwhile
            pass


class _DatabaseThreads:
    """`size` threads, each with its own inbox. A call goes to the thread that went idle last (a stack), which
    is the one most likely still holding its connection: a turn's successive calls, a few milliseconds apart,
    reuse one connection instead of each landing on a thread that must connect first (4.4 ms on PostgreSQL,
    and most of a sequential turn's time to first byte on a busy machine). With every thread busy, calls wait
    in a backlog, first come first served."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.lock = threading.Lock()
        self.backlog: collections.deque[_Call] = collections.deque()
        self.idle: list[queue.SimpleQueue[_Call | None]] = []  # inboxes of idle threads; the last to idle on top
        self.inboxes: list[queue.SimpleQueue[_Call | None]] = []
        self.threads: list[threading.Thread] = []
        for index in range(size):
            inbox: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
            self.inboxes.append(inbox)
            thread = threading.Thread(target=self._work, args=(inbox,), name=f"chat-db-{index}", daemon=True)
            self.threads.append(thread)
            thread.start()

    def submit(self, call: _Call) -> None:
        with self.lock:
            if not self.idle:
                self.backlog.append(call)
                return
            inbox = self.idle.pop()
        inbox.put(call)

    def _next(self, inbox: queue.SimpleQueue[_Call | None]) -> _Call | None:
        """A call from the backlog, or None after registering this thread as idle (its inbox gets the next)."""
        with self.lock:
            if self.backlog:
                return self.backlog.popleft()
            self.idle.append(inbox)
            return None

    def _work(self, inbox: queue.SimpleQueue[_Call | None]) -> None:
        holding = False
        idle_since = time.monotonic()
        call = self._next(inbox)  # None: registered as idle, the next call comes through the inbox
        while True:
            if call is None:
                while True:
                    try:
                        keep = max(0.0, float(chat_settings.DB_KEEP_SECONDS))
                        call = inbox.get(timeout=keep) if holding else inbox.get()
                        break
                    except queue.Empty:  # idle for DB_KEEP_SECONDS: give the connection back, stay idle
                        release_connections()
                        holding = False
                if call is None:  # stopped
                    release_connections()
                    return
            if holding:
                _drop_dead_connections(time.monotonic() - idle_since)
            settle = None
            try:
                settle = call.run()
            finally:
                _drop_broken_connections()
                holding = True
                idle_since = time.monotonic()
                # Idle (or onto the backlog's next call) before the caller hears back: its next call, a moment
                # later, finds this thread on top of the stack, with its connection.
                finished, call = call, self._next(inbox)
                if settle is not None:
                    finished.resolve(settle)

    def stop(self) -> None:
        """Each thread finishes the backlog, then exits at its next idle moment."""
        for inbox in self.inboxes:
            inbox.put(None)


_lock = threading.Lock()
_threads: _DatabaseThreads | None = None


def thread_count() -> int:
    """`CHAT_DB_CONCURRENCY`, or 1 on SQLite (one writer at a time: more threads only wait for its lock)."""
    if connections[DEFAULT_DB_ALIAS].vendor == "sqlite":
        return 1
    return max(1, int(chat_settings.DB_CONCURRENCY))


def shutdown(timeout: float = 10.0) -> None:
    """Stop the database threads once their queued calls are done, closing their connections (a test session's
    end, before its database is dropped); the next `run_db` starts new ones."""
    global _threads
    with _lock:
        threads, _threads = _threads, None
    if threads is not None:
        threads.stop()
        for thread in threads.threads:
            thread.join(timeout)


def calls_waiting() -> bool:
    """Whether database calls are queued for a free thread (a burst): a thread should not idle then."""
    return _threads is not None and bool(_threads.backlog)


def _database_threads() -> _DatabaseThreads:
    global _threads
    size = thread_count()
    with _lock:
        if _threads is None or _threads.size != size:
            if _threads is not None:
                _threads.stop()  # its threads finish the calls already queued, then exit
            _threads = _DatabaseThreads(size)
        return _threads


async def run_db(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """`fn(*args, **kwargs)` on one of the process's database threads, in the caller's context.

    A cancelled caller does not stop a call already running (the thread finishes it; its connection is
    never shared meanwhile), so the bound is exact; a call still queued when its caller is cancelled is skipped.
    """
    if getattr(AsyncToSync.executors, "current", None) is not None:
        # Called from sync code through async_to_sync (Django's test client, a management command): the
        # database work belongs to that caller's thread and connection (its transaction, its test data).
        return await sync_to_async(fn)(*args, **kwargs)
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()
    _database_threads().submit(_Call(fn, args, kwargs, contextvars.copy_context(), loop, future))
    return await future
