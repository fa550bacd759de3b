"""One chat turn's reply: the generation that runs once the turn is written (`threads.chat.records`).

`ChatStream` gets everything it needs as plain values (a `Turn`); its generator never looks at the request, and
it saves the assistant message however the turn ends.

A `Generation` is started as a task the moment it is made, holding the stream slot it was handed
(`OwnedSlot`): it releases the slot however it ends, so the slot is released exactly once even when the
response carrying it is never sent (a client that left while the view ran).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import OperationalError

from chatauth.caller import Workspace
from config import metrics
from threads.chat import stops, titles
from threads.chat.background import start_task
from threads.chat.conf import chat_settings
from threads.chat.dbgate import run_db
from threads.chat.devmodel import dev_model_chunks
from threads.chat.feed import FrameFeed
from threads.chat.limits import OwnedSlot
from threads.chat.protocol import Chunk, MessageAssembler, encode, error_chunk
from threads.chat.records import Turn, save_assistant, save_title, stopped_by_client
from threads.chat.request import ChatRequest, openai_tools, to_openai_messages
from threads.chat.upstream import describe_failure, openai_chunks

logger = logging.getLogger(__name__)

FIRST_TOKEN_CHUNKS = frozenset({"text-delta", "reasoning-delta", "tool-input-start"})


@dataclass
class Generation:
    """One assistant reply from the model: emits its chunks, then saves the message however it ended.

    It works on the plain values it was given; whoever owns it (the connection, or the server in resumable
    mode) only decides where the chunks go and who may cancel it.
    """

    turn: Turn
    request: ChatRequest
    slot: OwnedSlot | None = None  # the user's stream slot, handed over: released when the generation ends
    model: Callable[[], AsyncIterator[Chunk]] | None = None
    assembler: MessageAssembler = field(default_factory=MessageAssembler)
    status: str = "in_progress"
    stop_requested: bool = False
    started: bool = False
    cancelled: bool = False

    def __post_init__(self) -> None:
        if self.turn.continued_parts and not self.assembler.parts:
            self.assembler.parts = [dict(p) for p in self.turn.continued_parts]

    def _model_chunks(self) -> AsyncIterator[Chunk]:
        if self.model is not None:
            return self.model()
        if chat_settings.uses_dev_model:
            return dev_model_chunks(prompt=self.turn.prompt)
        return openai_chunks(
            messages=to_openai_messages(self.turn.history, system=self.request.system),
            tools=openai_tools(self.request),
            call_settings=self.request.call_settings,
            workspace=self.turn.workspace,
        )

    def _finish_metadata(self, chunk: Chunk) -> Chunk:
        """The reply's messageMetadata, streamed in `finish` and saved as streamed: model, finish reason, usage."""
        model = "development" if chat_settings.uses_dev_model and self.model is None else chat_settings.MODEL
        metadata = {"model": model, "finishReason": chunk.get("finishReason"), **(chunk.get("messageMetadata") or {})}
        return {**chunk, "messageMetadata": metadata}

    async def run(self, emit: Callable[[Chunk], Awaitable[None]]) -> None:
        self.started = True
        began = time.monotonic()
        first_token = False
        metrics.stream_started()
        try:
            await emit({"type": "start", "messageId": self.turn.assistant_message_id})
            async with asyncio.timeout(chat_settings.MAX_DURATION_SECONDS):
                async for chunk in self._model_chunks():
                    if chunk["type"] == "finish":
                        chunk = self._finish_metadata(chunk)
                    elif not first_token and chunk["type"] in FIRST_TOKEN_CHUNKS:
                        first_token = True
                        metrics.first_token(time.monotonic() - began)
                    self.assembler.add(chunk)
                    await emit(chunk)
            self.status = "complete" if self.assembler.finish_reason != "error" else "incomplete"
        except asyncio.CancelledError:
            self.status = "stopped" if self.stop_requested else "incomplete"
            self.cancelled = True
            if self.stop_requested:
                # A stop ends the reply mid-part: every reader (this tab, another one) and the saved message see
                # its parts done, then `abort`.
                for chunk in [*self.assembler.close_open(), {"type": "abort"}]:
                    with contextlib.suppress(Exception):
                        await emit(chunk)
            raise
        except Exception as exc:  # upstream failures become a chunk, never a 500 or a hung stream
            logger.warning("chat upstream failed: %s", exc.__class__.__name__)
            metrics.upstream_error(exc.__class__.__name__)
            self.status = "incomplete"
            # The AI SDK stops reading at `error`: what it should keep (closed parts, the metadata) comes first.
            metadata = self._finish_metadata({"type": "finish", "finishReason": "error"})["messageMetadata"]
            failure = [
                *self.assembler.close_open(),
                {"type": "message-metadata", "messageMetadata": metadata},
                error_chunk(describe_failure(exc)),
                {"type": "finish", "finishReason": "error", "messageMetadata": metadata},
            ]
            for chunk in failure:
                self.assembler.add(chunk)
                await emit(chunk)
        finally:
            metrics.stream_finished(time.monotonic() - began)
            try:
                await self._save()
            finally:
                await self.release_slot()

    async def end_unstarted(self) -> None:
        """A generation cancelled before `run` began (a stop at once): saved and its slot released all the same."""
        if not self.started:
            self.started = True
            self.status = "stopped" if self.stop_requested else "incomplete"
            try:
                await self._save()
            finally:
                await self.release_slot()

    async def release_slot(self) -> None:
        if self.slot is not None:
            slot, self.slot = self.slot, None
            with contextlib.suppress(Exception):
                await slot.release()

    def _first_user_message(self) -> dict[str, Any] | None:
        return next((m for m in self.turn.history if m["role"] == "user"), None)

    def _first_reply_complete(self) -> bool:
        """A new thread's first reply ended complete: the thread gets its title now (with the reply's save when the
        model is not asked, else by `title_if_new`)."""
        return self.turn.needs_title and self.status == "complete"

    async def _save(self) -> None:
        # Saved as streamed: the metadata the client received (the status is the message's own column).
        content = self.assembler.message(self.assembler.metadata or None)
        titled_now = self._first_reply_complete() and not titles.asks_model()
        title = titles.heuristic_title(self._first_user_message()) if titled_now else None
        try:
            for attempt in range(5):  # a database briefly locked (SQLite) or unreachable must not lose the reply
                try:
                    await asyncio.shield(
                        run_db(save_assistant, turn=self.turn, content=content, status=self.status, title=title)
                    )
                    break
                except OperationalError:
                    if attempt == 4:
                        raise
                    await asyncio.sleep(0.1 * (attempt + 1))
            if self.cancelled and self.status == "incomplete":
                # Its client left: if it left by stopping (it saved the reply since), the reply is stopped.
                if await asyncio.shield(run_db(stopped_by_client, turn=self.turn)):
                    self.status = "stopped"
        except Exception:
            logger.exception("saving the assistant message failed")

    def title_if_new(self) -> None:
        """A new thread's title by the model, once its first reply is complete: in the background
        (`titles.title_later`), holding only the first user message, never the response, the generation or a slot.
        (Without the model, the title was saved with the reply.)"""
        if not self._first_reply_complete() or not titles.asks_model():
            return
        titles.title_later(self._first_user_message(), functools.partial(run_db, save_title, turn=self.turn))


def start_generation(generation: Generation, coroutine: Any) -> asyncio.Task[Any]:
    """Run `coroutine` (which runs `generation`) as a task. The generation releases its slot when it ends;
    should the task end without running it (cancelled before its first step), the task's end does."""

    def ended(_: asyncio.Task[Any]) -> None:
        if generation.slot is not None:
            start_task(generation.release_slot())

    task = start_task(coroutine)
    task.add_done_callback(ended)
    return task


_streams_here: dict[str, ChatStream] = {}  # thread id -> its connection-owned generation running in this process


class ChatStream:
    """A generation owned by its connection: when the client goes away, the model call is cancelled.

    The generation starts at once (not when the response is first read), so it ends, saves and releases
    its slot even if the response is never sent: a client that left before that only costs the reply.
    `stop()` (DELETE /api/chat/{id}/stream) ends it like a resumable stop: parts closed, `abort`, `stopped`.
    """

    def __init__(self, generation: Generation) -> None:
        self.generation = generation
        self.feed = FrameFeed()
        self.producer = start_generation(generation, self._produce())
        self.loop = asyncio.get_running_loop()
        _streams_here[generation.turn.thread_id] = self
        self.producer.add_done_callback(self._forget)

    def _forget(self, _: asyncio.Task[Any]) -> None:
        if _streams_here.get(self.generation.turn.thread_id) is self:
            del _streams_here[self.generation.turn.thread_id]

    async def _emit(self, chunk: Chunk) -> None:
        self.feed.put([encode(chunk)])

    async def _produce(self) -> None:
        try:
            await self.generation.run(self._emit)
            # Started once the reply is saved, just before `[DONE]`; the response closes without waiting for it.
            self.generation.title_if_new()
        finally:
            self.feed.end()

    async def stop(self) -> None:
        """Stop the model call; returns once the reply is saved as `stopped` (the response then ends)."""
        self.generation.stop_requested = True
        self.producer.cancel()
        await asyncio.wait({self.producer})

    async def events(self) -> AsyncIterator[bytes]:
        producer = self.producer
        try:
            async for frames in self.feed.frames():
                yield frames
            await asyncio.wait({producer})  # its outcome is in the stream; a stopped producer ends cancelled
        finally:
            if not producer.done():
                producer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await producer


def stop_soon(thread_id: str, message_id: str) -> None:
    """From any thread (the history adapter's save runs on a database thread): stop that reply if it runs here."""
    stream = _streams_here.get(thread_id)
    if stream is not None and stream.generation.turn.assistant_message_id == message_id:
        stream.loop.call_soon_threadsafe(lambda: start_task(stream.stop()))


async def stop_connection_owned(*, workspace: Workspace, thread_id: str) -> str | None:
    """DELETE /api/chat/{id}/stream without resumable mode: stop the thread's running reply. Here, at once; on
    another worker, its connection's end (the client's `stop()`) then saves it as `stopped`. Its id, or None."""
    stream = _streams_here.get(thread_id)
    if stream is not None:
        await stream.stop()
        return stream.generation.turn.assistant_message_id
    return await run_db(stops.flag_running_replies, workspace=workspace, thread_id=thread_id)
