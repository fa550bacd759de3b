"""An OpenAI-compatible chat-completions upstream for benches, run as its own process.

Two servers answering byte-for-byte alike (the same events, in the same order, with the same pauses as
`tests/support/openai_server.OpenAIServer`'s default reply: each event, role and finish included, followed by
`--delay` seconds, then `data: [DONE]`), so a bench can say whether the upstream limits it:
  - `asyncio`: one event loop (uvloop when installed) with a minimal HTTP/1.1 keep-alive parser; a stream
    costs a coroutine, not a thread;
  - `threading`: the tests' `ThreadingHTTPServer`, one thread per connection (listen backlog 5).

Non-streamed completions (thread titles) get the joined text at once.

    .venv/bin/python bench/support/upstream.py [--kind asyncio|threading] [--deltas 20] [--delay 0.05]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def delta_texts(deltas: int) -> list[str]:
    """The reply's content pieces; a service that relays them all must reassemble exactly their join."""
    return [f"w{i} " for i in range(deltas)]


def stream_events(model: Any, deltas: list[str], finish_reason: str = "stop") -> list[bytes]:
    """The SSE frames of one streamed completion, as `OpenAIServer` frames them (same JSON, same order)."""

    def event(delta: dict[str, Any], finish: str | None = None) -> bytes:
        chunk = {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return f"data: {json.dumps(chunk)}\n\n".encode()

    return (
        [event({"role": "assistant", "content": ""})]
        + [event({"content": p}) for p in deltas]
        + [event({}, finish_reason)]
    )


def completion(model: Any, text: str) -> bytes:
    return json.dumps(
        {
            "id": "cmpl-1",
            "object": "chat.completion",
            "created": 0,
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        }
    ).encode()


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


class AsyncUpstream:
    """HTTP/1.1 with Content-Length request bodies (what the `openai` client and httpx send), keep-alive."""

    def __init__(self, deltas: list[str], delay: float) -> None:
        self.deltas = deltas
        self.delay = delay

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length") or 0))
                keep_alive = headers.get("connection", "").lower() != "close"
                await self.answer(json.loads(body or b"{}"), writer)
                if not keep_alive:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    async def answer(self, request: dict[str, Any], writer: asyncio.StreamWriter) -> None:
        model = request.get("model")
        if not request.get("stream"):
            payload = completion(model, "".join(self.deltas))
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(payload)}\r\n\r\n".encode()
                + payload
            )
            await writer.drain()
            return
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
        for event in stream_events(model, self.deltas):
            writer.write(_chunk(event))
            await writer.drain()
            if self.delay:
                await asyncio.sleep(self.delay)
        writer.write(_chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n")
        await writer.drain()

    async def serve(self) -> None:
        server = await asyncio.start_server(self.handle, "127.0.0.1", 0, backlog=4096, limit=1 << 20)
        announce(server.sockets[0].getsockname()[1])
        async with server:
            await server.serve_forever()


def announce(port: int) -> None:
    """The first line on stdout says where we listen (the parent passes no port: no race for a free one)."""
    print(f"listening on http://127.0.0.1:{port}", flush=True)


def serve_threading(deltas: list[str], delay: float) -> None:
    sys.path.insert(0, str(ROOT))
    from tests.support.openai_server import OpenAIServer, Reply

    server = OpenAIServer()  # binds a free port of its own
    server.default = Reply(deltas=deltas, delay=delay)
    server.requests = _Discard()  # a bench makes thousands of requests: do not keep their bodies
    server.start()
    announce(server.httpd.server_address[1])
    threading.Event().wait()


class _Discard(list):
    def append(self, item: Any) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kind", choices=("asyncio", "threading"), default="asyncio")
    parser.add_argument("--deltas", type=int, default=20)
    parser.add_argument("--delay", type=float, default=0.05)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    deltas = delta_texts(args.deltas)
    if args.kind == "threading":
        serve_threading(deltas, args.delay)
        return
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    try:
        asyncio.run(AsyncUpstream(deltas, args.delay).serve())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
