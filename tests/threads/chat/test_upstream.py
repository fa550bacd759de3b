"""The model client: one pooled `openai` client per event loop, closed with its loop."""

from __future__ import annotations

import asyncio
import gc
import ssl
import weakref

import pytest

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


def test_the_model_clients_tls_context_is_built_once_and_verifies_the_provider() -> None:
    context = upstream.tls_context()
    assert upstream.tls_context() is context  # one per process, whatever the loops and clients
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.cert_store_stats()["x509_ca"] > 0  # the library's CA bundle is loaded


def test_a_finished_loop_is_not_kept_alive_by_its_model_client(chat_on: OpenAIServer) -> None:
    async def use() -> weakref.ref[asyncio.AbstractEventLoop]:
        upstream.client()
        return weakref.ref(asyncio.get_running_loop())

    loop = asyncio.run(use())
    gc.collect()
    assert loop() is None


def _events(*chunks: bytes) -> list[object]:
    async def body():
        for chunk in chunks:
            yield chunk

    async def read() -> list[object]:
        return [event async for event in upstream._sse_events(body())]

    return asyncio.run(read())


STREAM = (
    b'data: {"choices": [{"delta": {"content": "Hel"}}]}\n\n'
    b": a comment\n"
    b'event: message\r\ndata: {"choices": [{"delta": {"content": "lo \xc3\xa9"}}]}\r\n\r\n'
    b"data: [DONE]\n\n"
)
EVENTS = [{"choices": [{"delta": {"content": "Hel"}}]}, {"choices": [{"delta": {"content": "lo é"}}]}, None]


def test_the_event_stream_reads_the_same_however_its_bytes_are_split() -> None:
    """Events, comments, CRLF lines and a two-byte character, cut at every byte (a proxy may re-chunk anything)."""
    assert _events(STREAM) == EVENTS
    for cut in range(1, len(STREAM)):
        assert _events(STREAM[:cut], STREAM[cut:]) == EVENTS, cut
    assert _events(*(STREAM[i : i + 1] for i in range(len(STREAM)))) == EVENTS


def test_an_event_split_over_several_data_lines_is_joined() -> None:
    assert _events(b'data: {"choices":\ndata: []}\n\ndata: [DONE]\n\n') == [{"choices": []}, None]


def test_a_malformed_event_is_an_upstream_error_naming_no_internals() -> None:
    with pytest.raises(upstream.UpstreamError) as caught:
        _events(b"data: {not json\n\n")
    assert caught.value.public_message == "The model provider sent a malformed stream."
