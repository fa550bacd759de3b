"""A new chat's early model call: built while its caller is admitted, sent once they are."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx

from tests.support.chat import chat_body, sse_chunks, user_message
from tests.support.openai_server import OpenAIServer, Reply
from threads.chat.early import EarlyCall
from threads.chat.request import parse_chat_request

BUILT = 0.3  # long enough for the SDK to have built the request and reached the gate, on a busy machine too


def _early(text: str = "Hi there") -> EarlyCall:
    """An early call, built: its request stops at the gate."""
    early = EarlyCall.begin(parse_chat_request(json.dumps(chat_body("thread_early", user_message(text))).encode()))
    assert early is not None
    early.build()
    return early


def test_an_early_call_sends_nothing_before_its_gate_opens(chat_on: OpenAIServer) -> None:
    async def built_then_cancelled() -> None:
        early = _early()
        await asyncio.sleep(BUILT)
        assert chat_on.requests == []
        early.cancel()
        await asyncio.sleep(BUILT)

    asyncio.run(built_then_cancelled())
    assert chat_on.requests == []


def test_an_early_call_sends_its_one_message_once_sent(chat_on: OpenAIServer) -> None:
    chat_on.script(Reply(deltas=["Hel", "lo"]))

    async def started() -> list[Any]:
        early = _early("Plan a trip")
        await asyncio.sleep(BUILT)
        await early.send()
        model = early.model_for(early.request.messages)
        assert model is not None
        return [chunk async for chunk in model()]

    chunks = asyncio.run(started())
    assert [c["delta"] for c in chunks if c["type"] == "text-delta"] == ["Hel", "lo"]
    (sent,) = chat_on.chat_requests
    assert [m for m in sent["body"]["messages"] if m["role"] != "system"] == [
        {"role": "user", "content": "Plan a trip"}
    ]


def test_an_early_call_whose_stored_context_differs_is_cancelled_unsent(chat_on: OpenAIServer) -> None:
    async def differing() -> Any:
        early = _early("Plan a trip")
        other = [user_message("Something else")]
        model = early.model_for(other)
        await asyncio.sleep(BUILT)
        return model

    assert asyncio.run(differing()) is None
    assert chat_on.requests == []


def test_a_rate_limited_first_message_never_reaches_the_model(
    settings: Any, chat_on: OpenAIServer, post_chat: Callable[..., httpx.Response]
) -> None:
    settings.CHAT = {**settings.CHAT, "RATE_LIMIT_REQUESTS": 1}
    first = post_chat(chat_body("thread_early_1"))
    assert sse_chunks(first.text)[-1] == "[DONE]"
    refused = post_chat(chat_body("thread_early_2"))
    assert refused.status_code == 429
    assert len(chat_on.chat_requests) == 1


def test_a_sent_call_cancelled_after_the_model_answered_is_ended(chat_on: OpenAIServer) -> None:
    chat_on.script(Reply(deltas=["x"] * 200, delay=0.02))

    async def answered_then_refused() -> bool:
        early = _early()
        await early.send()
        assert early.first is not None
        await asyncio.wait({early.first}, timeout=5)  # the model answered the request's headers
        early.cancel()  # e.g. the thread turned out to be another workspace's: 404
        return await asyncio.to_thread(chat_on.client_went_away.wait, 2)  # while the loop still runs

    assert asyncio.run(answered_then_refused())
    assert len(chat_on.chat_requests) == 1
