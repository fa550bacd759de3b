"""Resumable generations: owned by the server, logged to Redis, readable from any worker.

Per thread, `chat:active:{thread}` names the running generation (the assistant message id) and is its
lease: the owning worker refreshes its TTL while the model runs, so a worker that dies lets it lapse.
Every chunk is written once, already framed, to the Redis Stream `chat:log:{generation}`; readers
replay it from the first entry and follow it live until `[DONE]`. A stop request is a push to
`chat:stop:{generation}`, on which the owner blocks, so it cancels the model call at once from any worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import weakref
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as aioredis

from chatauth.caller import Workspace
from threads import services
from threads.chat.conf import chat_settings
from threads.chat.dbgate import run_db
from threads.chat.protocol import DONE, KEEPALIVE, MessageAssembler, encode, error_chunk
from threads.chat.stream import Generation, Turn, release_connection, save_assistant

logger = logging.getLogger(__name__)

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, aioredis.Redis]] = weakref.WeakKeyDictionary()
_running: set[asyncio.Task[None]] = set()  # strong references, so owned generations are not garbage-collected

LOST_MESSAGE = "The server generating this reply stopped before it finished."


def active_key(thread_id: str) -> str:
    return f"chat:active:{thread_id}"


def log_key(generation_id: str) -> str:
    return f"chat:log:{generation_id}"


def stop_key(generation_id: str) -> str:
    return f"chat:stop:{generation_id}"


def reaped_key(generation_id: str) -> str:
    return f"chat:reaped:{generation_id}"


def redis_client() -> aioredis.Redis:
    """One pool per event loop (a pool belongs to the loop that made it)."""
    loop = asyncio.get_running_loop()
    url = chat_settings.REDIS_URL
    per_loop = _clients.setdefault(loop, {})
    if url not in per_loop:
        per_loop[url] = aioredis.Redis.from_url(url, socket_connect_timeout=5, health_check_interval=30)
    return per_loop[url]


async def claim_thread(thread_id: str, generation_id: str) -> bool:
    """Mark the thread busy with this generation; False when another generation is still running."""
    return bool(await redis_client().set(active_key(thread_id), generation_id, nx=True, ex=chat_settings.LEASE_SECONDS))


async def release_thread(thread_id: str, generation_id: str) -> None:
    client = redis_client()
    if (await client.get(active_key(thread_id))) == generation_id.encode():
        await client.delete(active_key(thread_id))


async def active_generation(thread_id: str) -> str | None:
    value = await redis_client().get(active_key(thread_id))
    return value.decode() if value else None


async def _owned_run(generation: Generation) -> None:
    turn = generation.turn
    client = redis_client()
    log = log_key(turn.assistant_message_id)

    expiry_set = False

    async def emit(chunk: dict[str, Any]) -> None:
        nonlocal expiry_set
        await client.xadd(log, {"d": encode(chunk)})
        if not expiry_set:
            # Bounded from the first chunk: a log whose owner crashes and that nobody reads still goes away.
            await client.expire(log, chat_settings.MAX_DURATION_SECONDS + chat_settings.LOG_TTL_SECONDS)
            expiry_set = True

    async def heartbeat() -> None:
        while True:
            await asyncio.sleep(max(chat_settings.LEASE_SECONDS / 3, 0.2))
            await client.expire(active_key(turn.thread_id), chat_settings.LEASE_SECONDS)

    run = asyncio.create_task(generation.run(emit))

    async def watch_for_stop() -> None:
        # A dedicated connection: BLPOP blocks it until a stop arrives or the generation ends.
        watcher = aioredis.Redis.from_url(chat_settings.REDIS_URL, socket_connect_timeout=5)
        try:
            if await watcher.blpop([stop_key(turn.assistant_message_id)], timeout=0):
                generation.stop_requested = True
                run.cancel()
        finally:
            await watcher.aclose()

    helpers = [asyncio.create_task(heartbeat()), asyncio.create_task(watch_for_stop())]
    try:
        await run
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await emit({"type": "abort"} if generation.stop_requested else error_chunk(LOST_MESSAGE))
    finally:
        for task in helpers:
            task.cancel()
        with contextlib.suppress(Exception):
            await client.xadd(log, {"d": DONE})
            await client.expire(log, chat_settings.LOG_TTL_SECONDS)
            await client.delete(stop_key(turn.assistant_message_id))
            await release_thread(turn.thread_id, turn.assistant_message_id)
    with contextlib.suppress(Exception):
        await generation.title_if_new()


def start_owned_generation(generation: Generation) -> None:
    """Run the generation in the background: it outlives the request that started it."""
    task = asyncio.create_task(_owned_run(generation))
    _running.add(task)
    task.add_done_callback(_running.discard)


async def request_stop(thread_id: str) -> str | None:
    """Ask the running generation of a thread to stop; wait (briefly) until it has saved. Its id, or None."""
    generation_id = await active_generation(thread_id)
    if generation_id is None:
        return None
    client = redis_client()
    await client.rpush(stop_key(generation_id), "stop")
    await client.expire(stop_key(generation_id), 60)
    for _ in range(100):
        if await active_generation(thread_id) != generation_id:
            break
        await asyncio.sleep(0.05)
    return generation_id


async def _reap(turn_thread_id: str, workspace: Workspace, generation_id: str) -> None:
    """The owner died: end the log for every reader and save what it had streamed as incomplete."""
    client = redis_client()
    if not await client.set(reaped_key(generation_id), 1, nx=True, ex=chat_settings.LOG_TTL_SECONDS):
        return  # another reader or request is doing it
    assembler = MessageAssembler()
    for _, fields in await client.xrange(log_key(generation_id)):
        data = fields[b"d"]
        if data.startswith(b"data: {"):
            assembler.add(json.loads(data[6:]))
    for chunk in (error_chunk(LOST_MESSAGE), {"type": "finish", "finishReason": "error"}):
        await client.xadd(log_key(generation_id), {"d": encode(chunk)})
    await client.xadd(log_key(generation_id), {"d": DONE})
    await client.expire(log_key(generation_id), chat_settings.LOG_TTL_SECONDS)
    turn = Turn(turn_thread_id, workspace, "", generation_id, needs_title=False)
    await run_db(save_assistant, turn=turn, content=assembler.message({"status": "incomplete"}), status="incomplete")


async def reap_orphans(thread_id: str, workspace: Workspace) -> None:
    """In-progress replies of this thread whose owner is gone are closed as incomplete."""
    orphans = await run_db(_in_progress_ids, thread_id, workspace)
    active = await active_generation(thread_id)
    for generation_id in orphans:
        if generation_id != active:
            await _reap(thread_id, workspace, generation_id)


def _in_progress_ids(thread_id: str, workspace: Workspace) -> list[str]:
    try:
        thread = services.thread_get(workspace=workspace, thread_id=thread_id)
        return list(thread.messages.filter(status="in_progress", role="assistant").values_list("message_id", flat=True))
    except services.NotFound:
        return []
    finally:
        release_connection()


async def read_generation(thread_id: str, workspace: Workspace, generation_id: str) -> AsyncIterator[bytes]:
    """The generation's stream from its first chunk, then live until `[DONE]`; any worker can serve it."""
    client = redis_client()
    log = log_key(generation_id)
    last = "0-0"
    block_ms = max(int(chat_settings.KEEPALIVE_SECONDS * 1000), 50)
    while True:
        response = await client.xread({log: last}, block=block_ms, count=256)
        if not response:
            # Nothing new for a while: if the lease has lapsed without a `[DONE]`, the owner is gone.
            if await active_generation(thread_id) != generation_id:
                if not await client.exists(log):
                    yield encode(error_chunk(LOST_MESSAGE))
                    yield DONE
                    return
                await _reap(thread_id, workspace, generation_id)
            yield KEEPALIVE
            continue
        for entry_id, fields in response[0][1]:
            last = entry_id
            data = fields[b"d"]
            yield data
            if data == DONE:
                return
