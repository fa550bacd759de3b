"""Every chunk we emit carries only the keys the strict schemas of older `ai` clients accept."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.chat import chat_body, finish_chunk, sse_chunks
from tests.support.openai_server import Reply

pytestmark = pytest.mark.django_db(transaction=True)

# From the UI message chunk schemas (ui-message-chunks.ts); `type` is always allowed.
DOCUMENTED = {
    "start": {"messageId", "messageMetadata"},
    "start-step": set(),
    "finish-step": set(),
    "text-start": {"id"},
    "text-delta": {"id", "delta"},
    "text-end": {"id"},
    "reasoning-start": {"id"},
    "reasoning-delta": {"id", "delta"},
    "reasoning-end": {"id"},
    "tool-input-start": {"toolCallId", "toolName", "providerExecuted", "dynamic"},
    "tool-input-delta": {"toolCallId", "inputTextDelta"},
    "tool-input-available": {"toolCallId", "toolName", "input", "providerExecuted", "dynamic"},
    "tool-input-error": {"toolCallId", "toolName", "input", "providerExecuted", "dynamic", "errorText"},
    "error": {"errorText"},
    "message-metadata": {"messageMetadata"},
    "abort": {"reason"},
    "finish": {"finishReason", "messageMetadata"},
}
FINISH_REASONS = {"stop", "length", "content-filter", "tool-calls", "error", "other"}


def _check(chunks: list[Any]) -> set[str]:
    assert chunks[-1] == "[DONE]"
    for chunk in chunks[:-1]:
        assert chunk["type"] in DOCUMENTED, chunk
        assert set(chunk) - {"type"} <= DOCUMENTED[chunk["type"]], chunk
        if chunk["type"] == "finish":
            assert chunk.get("finishReason", "stop") in FINISH_REASONS
    return {c["type"] for c in chunks[:-1]}


def test_reasoning_and_tool_call_chunks_carry_only_documented_keys(chat_on, post_chat):
    chat_on.script(
        Reply(
            reasoning=["hm"],
            deltas=["calling"],
            tool_calls=[("call_a", "good", ['{"a":1}']), ("call_b", "bad", ["{not json"])],
            finish_reason="tool_calls",
        )
    )
    tools = {"good": {"parameters": {"type": "object"}}, "bad": {"parameters": {"type": "object"}}}
    seen = _check(sse_chunks(post_chat(chat_body(tools=tools)).text))
    assert {"reasoning-delta", "tool-input-delta", "tool-input-available", "tool-input-error"} <= seen


def test_error_chunks_carry_only_documented_keys(chat_on, post_chat):
    chat_on.script(Reply(deltas=["a", "b", "c"], drop_after=2))
    assert "error" in _check(sse_chunks(post_chat(chat_body()).text))


def test_an_unknown_upstream_finish_reason_is_reported_as_other(chat_on, post_chat):
    chat_on.script(Reply(finish_reason="something_new"))
    chunks = sse_chunks(post_chat(chat_body()).text)
    _check(chunks)
    assert chunks[-2] == finish_chunk("other")


def test_a_length_cut_is_reported_as_length(chat_on, post_chat):
    chat_on.script(Reply(finish_reason="length"))
    assert sse_chunks(post_chat(chat_body()).text)[-2] == finish_chunk("length")
