"""A real OpenAI-compatible chat-completions server on loopback, scripted per test.

`server.script(...)` queues what the next requests get; every request body is recorded, and a stream
the client abandons is noticed (`server.client_went_away`), so tests can prove the upstream call ended.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted answer. `deltas` are content pieces; the other fields add reasoning, tools or failures."""

    deltas: list[str] = field(default_factory=lambda: ["Hello", " from", " upstream"])
    reasoning: list[str] = field(default_factory=list)
    tool_calls: list[tuple[str, str, list[str]]] = field(default_factory=list)  # (id, name, argument pieces)
    delay: float = 0.0
    status: int = 200
    hang_seconds: float = 0.0
    drop_after: int | None = None  # the connection is torn down after this many events
    end_after: int | None = None  # the stream ends cleanly after this many events, with no finish and no [DONE]
    error_after: int | None = None  # an `{"error": ...}` event is sent after this many events
    finish_reason: str = "stop"
    # Which request may take this reply: a streamed one (True), a non-streamed one (False: a title), or the next
    # request of either kind (None). A new thread's title is asked for in the background once its reply is
    # complete, so a reply scripted for the next turn can say it is not the title's.
    stream: bool | None = None


class OpenAIServer:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.queue: list[Reply] = []
        self.default = Reply()
        self.client_went_away = threading.Event()
        self.finished_streams = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with server._lock:
                    server.requests.append(
                        {
                            "path": self.path,
                            "body": body,
                            "headers": {k.lower(): v for k, v in self.headers.items()},
                            "peer": self.client_address,  # the client's (host, port): one per TCP connection
                        }
                    )
                    reply = server._take(bool(body.get("stream")))
                server._answer(self, body, reply)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> OpenAIServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _take(self, stream: bool) -> Reply:
        """The first scripted reply this kind of request may take (under `_lock`), else the default."""
        for index, reply in enumerate(self.queue):
            if reply.stream is None or reply.stream == stream:
                return self.queue.pop(index)
        return self.default

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self.queue.extend(replies)

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        """Streamed chat completions (titles and other one-shot completions are left out)."""
        return [r for r in self.requests if r["path"].endswith("/chat/completions") and r["body"].get("stream")]

    def _answer(self, handler: BaseHTTPRequestHandler, body: dict[str, Any], reply: Reply) -> None:
        if reply.hang_seconds:
            time.sleep(reply.hang_seconds)
        if reply.status != 200:
            payload = json.dumps({"error": {"message": "scripted failure", "type": "server_error"}}).encode()
            handler.send_response(reply.status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
            return
        if not body.get("stream"):
            text = "".join(reply.deltas)
            payload = json.dumps(
                {
                    "id": "cmpl-1",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": body.get("model"),
                    "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                    ],
                }
            ).encode()
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
            return
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        try:
            for i, event in enumerate(self._events(body, reply)):
                if reply.drop_after is not None and i >= reply.drop_after:
                    # A moment for the client to read what was sent: aiohttp raises a connection error ahead of
                    # data it has buffered but not yet handed out, so on a busy machine an instant drop could take
                    # the last events with it (the test is about what the client had received).
                    time.sleep(0.2)
                    handler.connection.shutdown(socket.SHUT_RDWR)
                    handler.close_connection = True
                    return
                if reply.end_after is not None and i >= reply.end_after:
                    handler.wfile.write(b"0\r\n\r\n")
                    handler.wfile.flush()
                    return
                if reply.error_after is not None and i >= reply.error_after:
                    event = {"error": {"message": "scripted stream error", "type": "server_error"}}
                data = f"data: {json.dumps(event)}\n\n".encode()
                handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                handler.wfile.flush()
                if reply.delay:
                    time.sleep(reply.delay)
            done = b"data: [DONE]\n\n"
            handler.wfile.write(f"{len(done):x}\r\n".encode() + done + b"\r\n0\r\n\r\n")
            handler.wfile.flush()
            with self._lock:
                self.finished_streams += 1
        except (BrokenPipeError, ConnectionResetError):
            self.client_went_away.set()
            handler.close_connection = True

    @staticmethod
    def _events(body: dict[str, Any], reply: Reply) -> list[dict[str, Any]]:
        def event(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {
                "id": "chatcmpl-1",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": body.get("model"),
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }

        events = [event({"role": "assistant", "content": ""})]
        events += [event({"reasoning_content": piece}) for piece in reply.reasoning]
        events += [event({"content": piece}) for piece in reply.deltas]
        for index, (call_id, name, pieces) in enumerate(reply.tool_calls):
            events.append(
                event(
                    {
                        "tool_calls": [
                            {
                                "index": index,
                                "id": call_id,
                                "type": "function",
                                "function": {"name": name, "arguments": ""},
                            }
                        ]
                    }
                )
            )
            events += [event({"tool_calls": [{"index": index, "function": {"arguments": p}}]}) for p in pieces]
        events.append(event({}, reply.finish_reason))
        return events
