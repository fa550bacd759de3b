"""Tasks the chat paths start and nobody awaits (generations, titles, closing a loop's model client).

The event loop keeps only weak references to its tasks: a task nobody holds can be garbage-collected while it
is still pending. `start_task` holds each one until it ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_running: set[asyncio.Task[Any]] = set()


def start_task(coroutine: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
    """`coroutine` as a task on the running loop, strongly referenced until it ends."""
    task = asyncio.get_running_loop().create_task(coroutine)
    _running.add(task)
    task.add_done_callback(_running.discard)
    return task


def at_loop_end(close: Callable[[], Awaitable[None]]) -> None:
    """Have `close()` awaited when the running loop shuts down (`asyncio.run`, which uvicorn and asgiref use, cancels
    every task left at its end): what a loop owns (kept-alive connections) is closed on that loop."""

    async def wait_for_the_end() -> None:
        try:
            await asyncio.get_running_loop().create_future()
        finally:
            await close()

    start_task(wait_for_the_end())
