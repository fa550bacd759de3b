"""The model: an OpenAI-compatible server through the `openai` async client (see `devmodel` for the offline one).

It turns a completion into UI message stream chunks: `start-step`, text / reasoning / tool-input chunks,
`finish-step`, and a closing `finish` with the finish reason. The caller adds `start` and `[DONE]`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import importlib
import json
import ssl
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import openai
from openai._constants import DEFAULT_CONNECTION_LIMITS

from chatauth.caller import Workspace
from config import metrics
from threads.chat import attachments
from threads.chat.background import at_loop_end
from threads.chat.conf import chat_settings
from threads.chat.dbgate import run_db
from threads.chat.protocol import Chunk

# The HTTP library this `openai` release is built on (httpx, or its fork httpx2): its Limits and Response.
_HTTP = importlib.import_module(type(DEFAULT_CONNECTION_LIMITS).__module__.partition(".")[0])
DRAIN_SECONDS = 0.5  # after `[DONE]`, how long the rest of a streamed body may take before the connection is dropped
FINISH_REASONS = {"stop": "stop", "length": "length", "content_filter": "content-filter", "tool_calls": "tool-calls"}

# Set (in the context of one task) to a future that must complete before that task's model request may leave the
# process: the SDK builds the request at once, and the bytes go only when the future says so (`threads.chat.early`).
SEND_GATE: contextvars.ContextVar[asyncio.Future[None] | None] = contextvars.ContextVar("chat_send_gate", default=None)

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str], openai.AsyncOpenAI]] = (
    weakref.WeakKeyDictionary()
)


class UpstreamError(Exception):
    """The model call failed; `public_message` is safe to show the client (no keys, no internals)."""

    def __init__(self, public_message: str) -> None:
        super().__init__(public_message)
        self.public_message = public_message


def _limits() -> Any:
    """At most `UPSTREAM_MAX_CONNECTIONS` connections to the provider (a burst beyond waits for one); a released
    one is kept alive 30 s, so a turn reuses it instead of a new TCP/TLS handshake before the model's first token."""
    return _HTTP.Limits(max_connections=max(1, int(chat_settings.UPSTREAM_MAX_CONNECTIONS)), keepalive_expiry=30.0)


def client() -> openai.AsyncOpenAI:
    """One pooled client per event loop and configuration (the pool is bound to the loop that made it).

    Its transport is aiohttp (the SDK's `DefaultAioHttpClient`, the `openai[aiohttp]` extra), not the SDK's
    default httpx stack: reading a streamed reply through httpx's anyio backend cost a cancel scope, a timeout and
    a library lookup per read, the largest share of a turn's CPU (issue 17: 12.6 -> 9.9 ms per turn on SQLite).
    The client is closed when its loop ends (`background.at_loop_end`), so no connection outlives its loop.
    """
    loop = asyncio.get_running_loop()
    key = (chat_settings.OPENAI_API_KEY, chat_settings.OPENAI_BASE_URL)
    per_loop = _clients.get(loop)
    if per_loop is None:
        per_loop = _clients[loop] = {}
        at_loop_end(lambda: _close_clients(per_loop))
    if key not in per_loop:
        per_loop[key] = new_client(*key)
    return per_loop[key]


def new_client(api_key: str, base_url: str) -> openai.AsyncOpenAI:
    """A model client as `client()` pools them. Making one needs no event loop (its aiohttp session is opened
    by its first request), so the worker's warm-up makes one too: the first chat then finds the SDK's transport
    imported and the TLS context built."""
    return openai.AsyncOpenAI(
        api_key=api_key or "not-set",
        base_url=base_url or None,
        max_retries=0,
        timeout=openai.Timeout(chat_settings.READ_TIMEOUT_SECONDS, connect=chat_settings.CONNECT_TIMEOUT_SECONDS),
        http_client=openai.DefaultAioHttpClient(
            limits=_limits(), event_hooks={"request": [_through_send_gate]}, verify=tls_context()
        ),
    )


@functools.cache
def tls_context() -> ssl.SSLContext:
    """How every model client of this process verifies the provider: the HTTP library's default context (its CA
    bundle; `SSL_CERT_FILE` / `SSL_CERT_DIR` honoured), built once. Each client built its own, loading the CA
    bundle again (50-150 ms of a worker's first chat, once per event loop)."""
    context: ssl.SSLContext = _HTTP.create_ssl_context()
    return context


async def _through_send_gate(request: Any) -> None:
    """httpx's request hook, run once the request is fully built and before the transport takes a connection or
    sends a byte: a gated task waits here until its gate opens (a cancelled task never sends)."""
    gate = SEND_GATE.get()
    if gate is not None:
        await gate


async def _close_clients(per_loop: dict[tuple[str, str], openai.AsyncOpenAI]) -> None:
    """Close a loop's clients (at its end): their kept-alive connections are closed on the loop that owns them."""
    clients = list(per_loop.values())
    per_loop.clear()
    for pooled in clients:
        with contextlib.suppress(Exception):
            await pooled.close()


def describe_failure(exc: BaseException) -> str:
    """A message safe to show a client. The `openai` package's transport (httpx or its fork) is matched by
    exception class names, so a mid-stream drop reads the same whichever HTTP library raised it."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    if isinstance(exc, openai.APITimeoutError | TimeoutError) or any("Timeout" in n for n in names):
        return "The model provider timed out."
    if isinstance(exc, openai.APIStatusError):
        return f"The model provider returned an error (HTTP {exc.status_code})."
    if isinstance(exc, openai.APIConnectionError) or names & {"TransportError", "NetworkError", "ProtocolError"}:
        return "The connection to the model provider failed."
    if isinstance(exc, UpstreamError):
        return exc.public_message
    return "The model call failed."


@dataclass
class _ToolCall:
    id: str
    name: str
    arguments: str = ""


@dataclass
class _Converter:
    """OpenAI chat-completion deltas to UI chunks, opening and closing parts as the content switches."""

    text_id: str | None = None
    reasoning_id: str | None = None
    counter: int = 0
    tools: dict[int, _ToolCall] = field(default_factory=dict)

    def _next_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter}"

    def close_text(self) -> list[Chunk]:
        if self.text_id is None:
            return []
        chunk, self.text_id = {"type": "text-end", "id": self.text_id}, None
        return [chunk]

    def close_reasoning(self) -> list[Chunk]:
        if self.reasoning_id is None:
            return []
        chunk, self.reasoning_id = {"type": "reasoning-end", "id": self.reasoning_id}, None
        return [chunk]

    def reasoning(self, delta: str) -> list[Chunk]:
        out = self.close_text()
        if self.reasoning_id is None:
            self.reasoning_id = self._next_id("reasoning")
            out.append({"type": "reasoning-start", "id": self.reasoning_id})
        out.append({"type": "reasoning-delta", "id": self.reasoning_id, "delta": delta})
        return out

    def text(self, delta: str) -> list[Chunk]:
        out = self.close_reasoning()
        if self.text_id is None:
            self.text_id = self._next_id("text")
            out.append({"type": "text-start", "id": self.text_id})
        out.append({"type": "text-delta", "id": self.text_id, "delta": delta})
        return out

    def tool_delta(self, index: int, call_id: str | None, name: str | None, arguments: str | None) -> list[Chunk]:
        out = self.close_text() + self.close_reasoning()
        call = self.tools.get(index)
        if call is None:
            call = self.tools[index] = _ToolCall(id=call_id or self._next_id("call"), name=name or "")
            out.append({"type": "tool-input-start", "toolCallId": call.id, "toolName": call.name})
        if arguments:
            call.arguments += arguments
            out.append({"type": "tool-input-delta", "toolCallId": call.id, "inputTextDelta": arguments})
        return out

    def finish(self) -> list[Chunk]:
        out = self.close_text() + self.close_reasoning()
        for call in self.tools.values():
            try:
                parsed = json.loads(call.arguments or "{}")
            except ValueError:
                out.append(
                    {
                        "type": "tool-input-error",
                        "toolCallId": call.id,
                        "toolName": call.name,
                        "input": call.arguments,
                        "errorText": "The model produced tool arguments that are not valid JSON.",
                    }
                )
                continue
            out.append({"type": "tool-input-available", "toolCallId": call.id, "toolName": call.name, "input": parsed})
        return out


def _reasoning_delta(delta: dict[str, Any]) -> str | None:
    """Reasoning text, where OpenAI-compatible servers put it (`reasoning_content` or `reasoning`)."""
    value = delta.get("reasoning_content") or delta.get("reasoning")
    return value if isinstance(value, str) and value else None


async def _sse_events(body: AsyncIterator[bytes]) -> AsyncIterator[dict[str, Any] | None]:
    """The JSON payloads of a chat-completions event stream, read from its body's bytes; `None` for `[DONE]`.

    Parsed here as plain dicts rather than through the `openai` package's models: building a pydantic
    object per token was the largest cost of a stream on the service's CPU. Lines are split here from the
    bytes as they arrive (a chunk usually holds one whole event), rather than by the HTTP library's text and
    line decoders, two more async iterator layers per line.
    """
    pending = b""
    data: list[bytes] = []
    async for chunk in body:
        lines = (pending + chunk).split(b"\n") if pending else chunk.split(b"\n")
        pending = lines.pop()  # the unfinished last line (b"" when the chunk ended with a newline)
        for line in lines:
            if line.endswith(b"\r"):
                line = line[:-1]
            if line.startswith(b"data:"):
                data.append(line[5:].lstrip(b" "))
                continue
            if line or not data:
                continue  # `event:`/`id:`/`:comment` lines, or a blank line with no data
            payload, data = b"\n".join(data), []
            if payload == b"[DONE]":
                yield None
                return
            try:
                event = json.loads(payload)
            except ValueError as exc:
                raise UpstreamError("The model provider sent a malformed stream.") from exc
            if isinstance(event, dict) and event.get("error"):
                raise UpstreamError("The model provider reported an error.")
            if isinstance(event, dict):
                yield event


async def _drained(body: AsyncIterator[bytes]) -> None:
    """Read what follows `[DONE]` (normally just the end of the body), briefly: a response read to its end gives
    its connection back to the client's pool, where closing it early threw the connection away, so every turn
    opened a new one (a TCP and, with a real provider, a TLS handshake per turn)."""
    with contextlib.suppress(Exception):
        async with asyncio.timeout(DRAIN_SECONDS):
            async for _ in body:
                pass


def _converted(converter: _Converter, delta: dict[str, Any]) -> list[Chunk]:
    out: list[Chunk] = []
    reasoning = _reasoning_delta(delta)
    if reasoning:
        out += converter.reasoning(reasoning)
    content = delta.get("content")
    if isinstance(content, str) and content:
        out += converter.text(content)
    for call in delta.get("tool_calls") or []:
        function = call.get("function") or {}
        out += converter.tool_delta(
            call.get("index", 0), call.get("id"), function.get("name"), function.get("arguments")
        )
    return out


async def openai_chunks(
    *,
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]],
    call_settings: dict[str, Any],
    workspace: Workspace | None = None,
) -> AsyncIterator[Chunk]:
    """The model's reply as UI chunks. File placeholders in `messages` are filled from `workspace`'s store first
    (`threads.chat.attachments`): the provider gets the bytes, never a URL of ours."""
    if attachments.has_files(messages):
        messages = await run_db(attachments.inline_files_sync, messages, workspace)
    params: dict[str, Any] = {
        "model": chat_settings.MODEL,
        "messages": messages,
        "stream": True,
        "max_tokens": call_settings.get("max_tokens", chat_settings.MAX_OUTPUT_TOKENS),
        **{k: v for k, v in call_settings.items() if k != "max_tokens"},
    }
    if tools:
        params["tools"] = tools
    # Token usage arrives in a last event without choices; it is reported in the reply's messageMetadata.
    params["stream_options"] = {"include_usage": True}
    converter = _Converter()
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    # `post` with the raw response (the SDK's documented way to send a request it does not type): the same
    # client, key, base URL, timeouts and errors (a failure status raises `APIStatusError`), without
    # `create`'s transform of every parameter by type introspection (a third of the SDK's CPU per call). The
    # parameters are already plain JSON: the request's own validation built them. The `finally` closes the
    # response however we leave, cancellation included: the upstream request ends with us.
    response = await client().post("/chat/completions", cast_to=_HTTP.Response, body=params, stream=True)
    try:
        yield {"type": "start-step"}
        done = False
        body = response.aiter_bytes()
        async for event in _sse_events(body):
            if event is None:
                done = True
                await _drained(body)
                break
            if isinstance(event.get("usage"), dict):
                usage = event["usage"]
            for choice in event.get("choices") or []:
                delta = choice.get("delta")
                if isinstance(delta, dict):
                    for chunk in _converted(converter, delta):
                        yield chunk
                if choice.get("finish_reason"):
                    finish_reason = FINISH_REASONS.get(choice["finish_reason"], "other")
        if not done and finish_reason is None:
            raise UpstreamError("The model provider ended the reply early.")
    finally:
        await response.aclose()
    for chunk in converter.finish():
        yield chunk
    yield {"type": "finish-step"}
    finish: Chunk = {"type": "finish", "finishReason": finish_reason or "stop"}
    if usage is not None:
        tokens_in, tokens_out = usage.get("prompt_tokens"), usage.get("completion_tokens")
        metrics.tokens(int(tokens_in or 0), int(tokens_out or 0))
        finish["messageMetadata"] = {"usage": {"inputTokens": tokens_in, "outputTokens": tokens_out}}
    yield finish


async def complete_text(*, messages: list[dict[str, Any]], max_tokens: int = 32) -> str:
    """A short non-streamed completion (titles)."""
    response = await client().chat.completions.create(
        model=chat_settings.TITLE_MODEL or chat_settings.MODEL, messages=messages, max_tokens=max_tokens, stream=False
    )
    return (response.choices[0].message.content or "").strip() if response.choices else ""
