"""The model client: one pooled `openai` client per event loop, closed with its loop."""

from __future__ import annotations

import asyncio
import gc
import weakref

from tests.support.openai_server import OpenAIServer, Reply
from threads.chat import upstream


def test_a_loops_model_client_is_reused_by_that_loop_and_closed_when_the_loop_ends(chat_on: OpenAIServer) -> None:
    chat_on.script(Reply(deltas=["A title"], stream=False))

    async def call_twice() -> tuple[object, object, str]:
        first = upstream.client()
        title = await upstream.complete_text(messages=[{"role": "user", "content": "hi"}])
        return first, upstream.client(), title

    first, second, title = asyncio.run(call_twice())

    assert title == "A title"
    assert first is second
    # Its kept-alive connection was closed on the loop that owned it, not left for the garbage collector.
    assert first.is_closed()  # type: ignore[attr-defined]


def test_each_loop_gets_its_own_model_client(chat_on: OpenAIServer) -> None:
    async def one() -> object:
        return upstream.client()

    assert asyncio.run(one()) is not asyncio.run(one())


def test_a_finished_loop_is_not_kept_alive_by_its_model_client(chat_on: OpenAIServer) -> None:
    async def use() -> weakref.ref[asyncio.AbstractEventLoop]:
        upstream.client()
        return weakref.ref(asyncio.get_running_loop())

    loop = asyncio.run(use())
    gc.collect()
    assert loop() is None
