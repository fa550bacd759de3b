"""The one way the chat endpoints touch the database: `run_db`, bounded per process, connection given back.

Under ASGI every request runs its ORM calls in a thread of its own, and Django closes that thread's
connection only when the response ends. A chat response is a stream that can last minutes: a connection
left open by a lookup before the stream would be held for all of it (120 open resumed streams by one user
once took all of PostgreSQL's connections, and every other request answered 503). So `run_db` closes the
connections the call opened, in the thread that opened them, before it returns (with a connection pool
configured, `close()` gives the connection back to the pool): no open stream holds a connection.

A burst of new chats (hundreds at once) would still open as many connections at once; chat database work
is short (a few queries), so calls wait for one of `CHAT_DB_CONCURRENCY` turns per process: a burst queues
for milliseconds instead of failing. This bounds a local resource, like a pool: it is not shared state.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.db import connections

from threads.chat.conf import chat_settings

T = TypeVar("T")

_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, asyncio.Semaphore]] = weakref.WeakKeyDictionary()


def _gate() -> asyncio.Semaphore:
    size = max(1, int(chat_settings.DB_CONCURRENCY))
    per_loop = _gates.setdefault(asyncio.get_running_loop(), {})
    if size not in per_loop:
        per_loop[size] = asyncio.Semaphore(size)
    return per_loop[size]


def release_connections() -> None:
    """Close this thread's database connections (outside a transaction): the next query opens one again."""
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close()


def _call_and_release(fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
    try:
        return fn(*args, **kwargs)
    finally:
        release_connections()


def _finished(gate: asyncio.Semaphore, call: asyncio.Future[Any]) -> None:
    gate.release()
    if not call.cancelled():
        call.exception()  # retrieved: a caller that was cancelled meanwhile no longer will


async def run_db(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """`fn(*args, **kwargs)` in a thread, once one of the process's database turns is free; the connection
    it used is closed before this returns.

    The turn is held until the thread is done, even when the caller is cancelled meanwhile (a cancelled
    await does not stop the thread, which still holds its connection): the bound is exact.
    """
    gate = _gate()
    await gate.acquire()
    call = asyncio.ensure_future(sync_to_async(_call_and_release)(fn, args, kwargs))
    call.add_done_callback(lambda done: _finished(gate, done))
    return await asyncio.shield(call)
