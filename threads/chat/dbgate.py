"""A per-process bound on the chat endpoint's concurrent database work.

Under ASGI every request runs its ORM calls in a thread of its own, with a connection of its own. A burst
of new chats (hundreds at once) would open as many database connections and exhaust the server's limit
(PostgreSQL: 100 by default), turning a burst into 503s. Chat database work is short (a few queries), so
waiting for one of `CHAT_DB_CONCURRENCY` turns costs milliseconds; connections are given back after each
call (`stream.release_connection`), so streams in progress hold none. This bounds a local resource, like
a connection pool: it is not shared state, and needs none.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from asgiref.sync import sync_to_async

from threads.chat.conf import chat_settings

T = TypeVar("T")

_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, asyncio.Semaphore]] = weakref.WeakKeyDictionary()


def _gate() -> asyncio.Semaphore:
    size = max(1, int(chat_settings.DB_CONCURRENCY))
    per_loop = _gates.setdefault(asyncio.get_running_loop(), {})
    if size not in per_loop:
        per_loop[size] = asyncio.Semaphore(size)
    return per_loop[size]


async def run_db(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """`sync_to_async(fn)(...)`, once one of the process's database slots is free."""
    async with _gate():
        return await sync_to_async(fn)(*args, **kwargs)
