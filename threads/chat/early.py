"""A new chat's upstream request: built while the caller is admitted, sent as soon as they are.

The model's context is the stored branch (`threads.chat.turns`), known only once the turn is written: waiting
for that before calling the model put the database's latency (a transaction, and on PostgreSQL a few round
trips) in front of the model's. For a request whose context cannot depend on what is stored, the call is made in
two steps:

- `begin`, as soon as the request is parsed, then `build`: the `openai` SDK builds the request in a task of its
  own (a millisecond of CPU, the largest single step before the model is reached), while the event loop waits for
  I/O: the admission's round trip (rate limit, stream slot). The task waits at a gate (`upstream.SEND_GATE`,
  httpx's request hook) before the transport takes a connection: nothing leaves the process;
- `send`, once the caller is admitted (signed in, within their rate limit, holding a stream slot): the gate opens
  and the request goes. A request refused before that (401, 400, 429) cancels the task at the gate: it never
  reaches the model. Whatever is refused after that (another workspace's thread id: 404; a reply already running
  in the thread: 409; a failed write) cancels the call, and its output is never read. The thread's lookup or claim
  and the turn's writes run while the model works on its first token: on PostgreSQL in resumable mode, the claim
  alone was 1.2 ms in front of it (`bench/first_delta.py --pg`).

Only a request carrying exactly one message, a user message, in `messages` qualifies (the first turn of a new
chat, an edit of the first message, or a list naming no stored message: a new root). Its context is that message
and nothing else, so the model receives nothing the client could not send as a message of its own: no earlier
turn of the client's copy of the thread, and nothing stored in any thread (its own, or another workspace's it
names), ever reaches the model this way. A caller naming someone else's thread spends one model call of their
own budget, cancelled at once, and learns nothing but the 404. Never with the development model, an only-last
body (`message`: it continues the stored head), a tool continuation or a message with file parts (its files are
stored by the turn and inlined from the store).

Once the turn is written, the stored context is compared with the one the call was built with (as the
chat-completions messages both would send); on any difference the early call is cancelled and the generation
calls the model as usual, with the stored context.

Once the call is sent, the database work waits until the model has answered the request's headers (or
`SEND_WAIT_SECONDS` have passed), unless other database work is queued: the writes' ORM work and the model
request's sending took turns with the interpreter, which put a millisecond or more of the writes in front of the
model's first token. The model takes far longer than the writes to send its first token, so the reply waits for
neither.

The user message is stored before the reply is acknowledged: the response (its status and first byte) is
only returned after the turn's transaction has committed, and a failed write cancels the early call, so a
client never sees a reply to a message the service did not store.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import AsyncIterator, Callable
from typing import Any

from threads.chat.background import start_task
from threads.chat.conf import chat_settings
from threads.chat.dbgate import calls_waiting
from threads.chat.protocol import Chunk
from threads.chat.request import ChatRequest, openai_tools, to_openai_messages
from threads.chat.upstream import SEND_GATE, openai_chunks

SEND_WAIT_SECONDS = 0.005  # the longest the database work waits for the model request to be answered


def _context(messages: Any, request: ChatRequest) -> list[dict[str, Any]]:
    return to_openai_messages([{"role": m["role"], "parts": m["parts"]} for m in messages], system=request.system)


class EarlyCall:
    """The model call of one turn, built now and sent on `send()`; `model_for(turn)` hands it to the generation,
    or cancels it. Whoever begins one must see that it ends in `model_for` or `cancel`."""

    def __init__(self, request: ChatRequest) -> None:
        self.request = request
        self.loop = asyncio.get_running_loop()
        self.context = _context(request.messages, request)
        self.taken = False
        self.cancelled = False
        self.gate: asyncio.Future[None] = self.loop.create_future()
        self.chunks: AsyncIterator[Chunk] | None = None
        self.first: asyncio.Task[Chunk] | None = None

    def build(self) -> None:
        """Have the SDK build the request, in a task of its own that runs at the caller's next `await` and stops
        at the gate (once; not after a cancel). The caller chooses the moment: while it waits for I/O the event
        loop does the building (the admission's round trip)."""
        if self.first is not None or self.cancelled:
            return
        self.chunks = openai_chunks(
            messages=self.context, tools=openai_tools(self.request), call_settings=self.request.call_settings
        )
        gated = contextvars.copy_context()
        gated.run(SEND_GATE.set, self.gate)  # only this task's request waits for the gate
        self.first = self.loop.create_task(self._first_chunk(), context=gated)
        self.first.add_done_callback(self._ended)

    async def _first_chunk(self) -> Chunk:
        assert self.chunks is not None
        return await anext(self.chunks)

    def start(self) -> None:
        """Open the gate (on the event loop): the request goes, unless it was cancelled."""
        if not self.cancelled and not self.gate.done():  # `model_for` starts it too: once is enough
            self.build()
            self.gate.set_result(None)

    async def send(self) -> None:
        """`start`, once the caller is admitted; then wait for the model's answer to the request's headers (at
        most `SEND_WAIT_SECONDS`) before the database work goes on (see the module docstring), unless others wait."""
        self.start()
        if self.first is not None and self.gate.done() and not calls_waiting():
            await asyncio.wait({self.first}, timeout=SEND_WAIT_SECONDS)

    @classmethod
    def begin(cls, request: ChatRequest) -> EarlyCall | None:
        """An early call when this request's context is its one user message; else None (the usual path)."""
        messages = request.messages
        if chat_settings.uses_dev_model or request.only_last or len(messages) != 1 or messages[0]["role"] != "user":
            return None
        if any(isinstance(part, dict) and part.get("type") == "file" for part in messages[0]["parts"]):
            return None  # its files are stored by the turn's transaction and read back from the store for the model
        return cls(request)

    def model_for(self, history: Any) -> Callable[[], AsyncIterator[Chunk]] | None:
        """The call as the generation's model when `history` (the stored context) is what it was built with
        (sent now if it was not yet); otherwise it is cancelled and None is returned (the generation calls the
        model itself)."""
        if self.cancelled or _context(history, self.request) != self.context:
            self.cancel()
            return None
        self.start()
        self.taken = True
        return self._stream

    async def _stream(self) -> AsyncIterator[Chunk]:
        assert self.first is not None and self.chunks is not None  # built by `start`
        try:
            first = await self.first
        except StopAsyncIteration:
            return
        yield first
        async for chunk in self.chunks:
            yield chunk

    def cancel(self) -> None:
        """Not needed after all (a refused or failed turn): a request still at its gate never leaves; one sent
        ends with its HTTP request."""
        self.cancelled = True
        if self.taken or self.first is None:
            return
        if self.first.done():
            start_task(self._close())  # sent and answered: its HTTP request is ended, its reply never read
        else:
            self.first.cancel()  # `_ended` closes it

    def _ended(self, task: asyncio.Task[Chunk]) -> None:
        if task.cancelled():
            # The generator was stopped mid-step (or never started): close it, so its HTTP response is released.
            start_task(self._close())
        elif not self.taken:
            task.exception()  # retrieved: a failure of a call nobody used is not an unhandled error

    async def _close(self) -> None:
        if self.chunks is not None:
            with contextlib.suppress(BaseException):
                await self.chunks.aclose()
