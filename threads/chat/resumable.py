"""Resumable generations: owned by the server, logged to Redis, readable from any worker.

Per thread, `chat:active:{thread}` names the running generation (the assistant message id) and is its
lease: the owning worker refreshes its TTL while the model runs, so a worker that dies lets it lapse.
Every chunk is written once, already framed, to the Redis Stream `chat:log:{generation}`; readers
replay it from the first entry and follow it live until `[DONE]`. A stop request is an entry in the
stream `chat:stop:{generation}`, which the owner follows, so it cancels the model call at once from any
worker. Waiting costs no Redis connection: readers and stop watchers wait on the worker's `LogHub`
(`threads.chat.logbus`), and every command goes through one bounded pool per worker.

The end of a generation is one Lua script: `[DONE]` is logged and the thread is free in the same instant,
so a client that has read `[DONE]` can send the next message at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from chatauth.caller import Workspace
from threads import services
from threads.chat.conf import chat_settings
from threads.chat.dbgate import run_db
from threads.chat.logbus import log_hub, redis_client
from threads.chat.protocol import DONE, KEEPALIVE, MessageAssembler, encode, error_chunk
from threads.chat.stream import Generation, save_reply, start_generation

logger = logging.getLogger(__name__)

LOST_MESSAGE = "The server generating this reply stopped before it finished."

# KEYS: log, active, stop. ARGV: the [DONE] frame, the log's TTL, the generation id.
_FINISH = """
redis.call('XADD', KEYS[1], '*', 'd', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('DEL', KEYS[3])
if redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
return 1
"""


def active_key(thread_id: str) -> str:
    return f"chat:active:{thread_id}"


def log_key(generation_id: str) -> str:
    return f"chat:log:{generation_id}"


def stop_key(generation_id: str) -> str:
    return f"chat:stop:{generation_id}"


def reaped_key(generation_id: str) -> str:
    return f"chat:reaped:{generation_id}"


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
        if expiry_set:
            await client.xadd(log, {"d": encode(chunk)})
            return
        # Bounded from the first chunk: a log whose owner crashes and that nobody reads still goes away.
        async with client.pipeline(transaction=False) as pipe:
            pipe.xadd(log, {"d": encode(chunk)})
            pipe.expire(log, chat_settings.MAX_DURATION_SECONDS + chat_settings.LOG_TTL_SECONDS)
            await pipe.execute()
        expiry_set = True

    async def heartbeat() -> None:
        while True:
            await asyncio.sleep(max(chat_settings.LEASE_SECONDS / 3, 0.2))
            with contextlib.suppress(Exception):
                await client.expire(active_key(turn.thread_id), chat_settings.LEASE_SECONDS)

    run = asyncio.create_task(generation.run(emit))

    async def watch_for_stop() -> None:
        key = stop_key(turn.assistant_message_id)
        async with log_hub().subscribe(key) as event:
            while True:
                event.clear()
                with contextlib.suppress(Exception):
                    if await client.exists(key):
                        generation.stop_requested = True
                        run.cancel()
                        return
                with contextlib.suppress(TimeoutError):  # re-checked now and then, should the hub be down
                    await asyncio.wait_for(event.wait(), timeout=max(chat_settings.LEASE_SECONDS, 1))

    helpers = [asyncio.create_task(heartbeat()), asyncio.create_task(watch_for_stop())]
    try:
        await run
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await emit({"type": "abort"} if generation.stop_requested else error_chunk(LOST_MESSAGE))
    finally:
        for task in helpers:
            task.cancel()
        await generation.end_unstarted()
        try:
            await client.eval(
                _FINISH,
                3,
                log,
                active_key(turn.thread_id),
                stop_key(turn.assistant_message_id),
                DONE,
                chat_settings.LOG_TTL_SECONDS,
                turn.assistant_message_id,
            )
        except Exception:
            logger.exception("ending the generation's log failed; its lease will lapse")
    with contextlib.suppress(Exception):
        await generation.title_if_new()


def start_owned_generation(generation: Generation) -> None:
    """Run the generation in the background: it outlives the request that started it."""
    start_generation(generation, _owned_run(generation))


async def request_stop(thread_id: str) -> str | None:
    """Ask the running generation of a thread to stop; wait (briefly) until it has saved. Its id, or None."""
    generation_id = await active_generation(thread_id)
    if generation_id is None:
        return None
    client = redis_client()
    async with client.pipeline(transaction=False) as pipe:
        pipe.xadd(stop_key(generation_id), {"stop": "1"})
        pipe.expire(stop_key(generation_id), 60)
        await pipe.execute()
    for _ in range(100):
        if await active_generation(thread_id) != generation_id:
            break
        await asyncio.sleep(0.05)
    return generation_id


async def _reap(thread_id: str, workspace: Workspace, generation_id: str) -> None:
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
    await run_db(
        save_reply,
        workspace=workspace,
        thread_id=thread_id,
        message_id=generation_id,
        content=assembler.message({"status": "incomplete"}),
        status="incomplete",
        if_in_progress=True,
    )


async def reap_orphans(thread_id: str, workspace: Workspace) -> None:
    """In-progress replies of this thread whose owner is gone are closed as incomplete."""
    orphans = await run_db(_in_progress_ids, thread_id, workspace)
    if not orphans:
        return
    active = await active_generation(thread_id)
    for generation_id in orphans:
        if generation_id != active:
            await _reap(thread_id, workspace, generation_id)


def _in_progress_ids(thread_id: str, workspace: Workspace) -> list[str]:
    try:
        thread = services.thread_get(workspace=workspace, thread_id=thread_id)
    except services.NotFound:
        return []
    return list(thread.messages.filter(status="in_progress", role="assistant").values_list("message_id", flat=True))


async def read_generation(thread_id: str, workspace: Workspace, generation_id: str) -> AsyncIterator[bytes]:
    """The generation's stream from its first chunk, then live until `[DONE]`; any worker can serve it.

    Between chunks it waits on the worker's hub, holding no Redis connection (and no database connection).
    """
    client = redis_client()
    log = log_key(generation_id)
    last: bytes | str = "0-0"
    async with log_hub().subscribe(log) as event:
        while True:
            event.clear()
            response = await client.xread({log: last}, count=256)
            if response:
                for entry_id, fields in response[0][1]:
                    last = entry_id
                    data = fields[b"d"]
                    yield data
                    if data == DONE:
                        return
                continue
            try:
                await asyncio.wait_for(event.wait(), timeout=max(chat_settings.KEEPALIVE_SECONDS, 0.05))
                continue
            except TimeoutError:
                pass
            # Nothing new for a while: if the lease has lapsed without a `[DONE]`, the owner is gone
            # (the owner frees the lease and logs `[DONE]` in one step: look again before deciding).
            if await active_generation(thread_id) != generation_id:
                if await client.xread({log: last}, count=1):
                    continue
                if not await client.exists(log):
                    yield encode(error_chunk(LOST_MESSAGE))
                    yield DONE
                    return
                await _reap(thread_id, workspace, generation_id)
            yield KEEPALIVE
