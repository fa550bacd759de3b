"""Resumable generations: owned by the server, logged to Redis, readable from any worker.

Per thread, `chat:active:{thread}` names the running generation (the assistant message id) and is its
lease: the owning worker refreshes its TTL while the model runs, so a worker that dies lets it lapse.
Every chunk is written once, already framed, to the Redis Stream `chat:log:{generation}`; readers
replay it from the first entry and follow it live until `[DONE]`. The request that started the generation is
its first reader, in the same process: it takes the frames from the owner as they are emitted (`FrameFeed`),
in the order they are logged and as soon as they have left for the log (`LogWriter`), instead of reading its
own chunks back from Redis. A stop request is an entry
of `chat:stop:{generation}`, which the owner follows, so it cancels the model call at once from any worker
(it used to be an entry of the log, which woke the owner for every chunk it wrote). Waiting costs no Redis
connection: readers and stop watchers wait on the worker's `LogHub` (`threads.chat.logbus`), and every
command goes through one bounded pool per worker.

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

from redis.exceptions import RedisError

from chatauth.caller import Workspace
from threads import services
from threads.chat.conf import chat_settings
from threads.chat.dbgate import run_db
from threads.chat.feed import FrameFeed
from threads.chat.logbus import LogWriter, lease_keeper, log_hub, redis_client, run_script, stream_id
from threads.chat.protocol import DONE, KEEPALIVE, MessageAssembler, encode, error_chunk
from threads.chat.records import save_reply
from threads.chat.stream import Generation, start_generation

logger = logging.getLogger(__name__)

_owned_here: set[str] = set()  # generations this process is running: alive, whatever their lease says

LOST_MESSAGE = "The server generating this reply stopped before it finished."
STOP_FIELD = b"s"  # a log entry with this field (instead of `d`, a chunk) asks the owner to stop

# KEYS: log, active. ARGV: the [DONE] frame, the log's TTL, the generation id.
_FINISH = """
redis.call('XADD', KEYS[1], '*', 'd', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
if redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
return 1
"""


def active_key(thread_id: str) -> str:
    return f"chat:active:{thread_id}"


def log_key(generation_id: str) -> str:
    return f"chat:log:{generation_id}"


def reaped_key(generation_id: str) -> str:
    return f"chat:reaped:{generation_id}"


def stop_key(generation_id: str) -> str:
    return f"chat:stop:{generation_id}"


async def claim_thread(thread_id: str, generation_id: str) -> bool:
    """Mark the thread busy with this generation; False when another generation is still running."""
    return bool(await redis_client().set(active_key(thread_id), generation_id, nx=True, ex=chat_settings.LEASE_SECONDS))


async def claim_thread_when_free(thread_id: str, generation_id: str, workspace: Workspace) -> bool:
    """`claim_thread`, also when the running generation has saved its reply and is just ending (it logs
    `[DONE]` and frees the thread a moment after the save): a client that saw the reply end, or stopped
    it, can send the next message at once. False while a reply is really being generated."""
    if await _claim(thread_id, generation_id):
        return True
    active = await active_generation(thread_id)
    if active is not None and await run_db(_reply_status, thread_id, workspace, active) == "in_progress":
        return False
    for _ in range(100):
        if await _claim(thread_id, generation_id):
            return True
        await asyncio.sleep(0.02)
    return False


async def _claim(thread_id: str, generation_id: str) -> bool:
    if not await claim_thread(thread_id, generation_id):
        return False
    # A tool continuation generates into the message it continues: the log of that message's earlier run
    # (kept for late readers), and a stop asked of that run, must not be taken for this one's.
    await redis_client().delete(log_key(generation_id), reaped_key(generation_id), stop_key(generation_id))
    return True


def _reply_status(thread_id: str, workspace: Workspace, message_id: str) -> str | None:
    try:
        thread = services.thread_get(workspace=workspace, thread_id=thread_id)
    except services.NotFound:
        return None
    return thread.messages.filter(message_id=message_id).values_list("status", flat=True).first()


def holding_lease(thread_id: str) -> contextlib.AbstractContextManager[None]:
    """Keep the thread's lease refreshed for the body of the `with` (with this worker's other leases)."""
    return lease_keeper().holding(active_key(thread_id))


async def release_thread(thread_id: str, generation_id: str) -> None:
    client = redis_client()
    if (await client.get(active_key(thread_id))) == generation_id.encode():
        await client.delete(active_key(thread_id))


async def active_generation(thread_id: str) -> str | None:
    value = await redis_client().get(active_key(thread_id))
    return value.decode() if value else None


async def _owned_run(generation: Generation, feed: FrameFeed) -> None:
    _owned_here.add(generation.turn.assistant_message_id)
    try:
        await _run_owned(generation, feed)
    finally:
        _owned_here.discard(generation.turn.assistant_message_id)
        feed.end()  # after the log's `[DONE]` (had logging it failed, readers of the log see the lease lapse)


async def _run_owned(generation: Generation, feed: FrameFeed) -> None:
    turn = generation.turn
    client = redis_client()
    log = log_key(turn.assistant_message_id)
    stops = stop_key(turn.assistant_message_id)
    writer = LogWriter(client, log, sent=feed.put)

    async def emit(chunk: dict[str, Any]) -> None:
        writer.write(encode(chunk))

    run = asyncio.create_task(generation.run(emit))

    async def watch_for_stop() -> None:
        # A stop request is an entry of the generation's stop stream: the owner follows it through the worker's
        # hub like a reader follows a log, so watching costs neither a connection nor a blocked read of its own,
        # and nothing wakes it but a stop.
        async with log_hub().subscribe(stops) as subscription:
            while not any(STOP_FIELD in fields for _, batch in subscription.inbox for _, fields in batch):
                subscription.inbox.clear()
                subscription.event.clear()
                try:
                    await asyncio.wait_for(subscription.event.wait(), timeout=max(chat_settings.LEASE_SECONDS, 1))
                except TimeoutError:  # re-checked now and then, should the hub be down
                    with contextlib.suppress(RedisError):
                        if await client.exists(stops):
                            break
        generation.stop_requested = True
        run.cancel()

    watcher = asyncio.create_task(watch_for_stop())
    try:
        with holding_lease(turn.thread_id):
            try:
                await run
            except asyncio.CancelledError:
                if not generation.stop_requested:  # a stop emitted its own end (parts closed, `abort`)
                    with contextlib.suppress(Exception):
                        await emit(error_chunk(LOST_MESSAGE))
    finally:
        watcher.cancel()
        await generation.end_unstarted()
        await writer.drain()
        # Once the reply is saved, in the background: no reader waits for it and no slot is held.
        generation.title_if_new()
        try:
            await run_script(
                client,
                _FINISH,
                2,
                log,
                active_key(turn.thread_id),
                DONE,
                chat_settings.LOG_TTL_SECONDS,
                turn.assistant_message_id,
            )
        except Exception:
            logger.exception("ending the generation's log failed; its lease will lapse")


def start_owned_generation(generation: Generation) -> FrameFeed:
    """Run the generation in the background: it outlives the request that started it. Its frames, for the
    response of that request, are in the feed returned."""
    feed = FrameFeed()
    start_generation(generation, _owned_run(generation, feed)).add_done_callback(lambda _: feed.end())
    return feed


async def ask_to_stop(client: Any, generation_id: str) -> None:
    """Add a stop request for the generation (its owner, on whatever worker, follows this stream)."""
    async with client.pipeline(transaction=False) as pipe:
        pipe.xadd(stop_key(generation_id), {STOP_FIELD: b"1"}, maxlen=4, approximate=True)
        pipe.expire(stop_key(generation_id), chat_settings.MAX_DURATION_SECONDS + chat_settings.LOG_TTL_SECONDS)
        await pipe.execute()


async def request_stop(thread_id: str) -> str | None:
    """Ask the running generation of a thread to stop; wait (briefly) until it has saved. Its id, or None."""
    generation_id = await active_generation(thread_id)
    if generation_id is None:
        return None
    await ask_to_stop(redis_client(), generation_id)
    for _ in range(100):
        if await active_generation(thread_id) != generation_id:
            break
        await asyncio.sleep(0.05)
    return generation_id


async def _owner_seems_alive(generation_id: str) -> bool:
    """Its lease has lapsed; but a lease is only refreshed as often as a very busy worker gets to it: the
    owner is alive if it runs in this process, or if it logged a chunk less than a lease ago."""
    if generation_id in _owned_here:
        return True
    client = redis_client()
    newest = await client.xrevrange(log_key(generation_id), count=1)
    if not newest:
        return False
    seconds, micros = await client.time()
    age_ms = int(seconds) * 1000 + int(micros) // 1000 - stream_id(newest[0][0])[0]
    return age_ms < chat_settings.LEASE_SECONDS * 1000


async def _reap(thread_id: str, workspace: Workspace, generation_id: str) -> None:
    """The owner died: end the log for every reader and save what it had streamed as incomplete."""
    client = redis_client()
    if generation_id in _owned_here:
        return
    if not await client.set(reaped_key(generation_id), 1, nx=True, ex=chat_settings.LOG_TTL_SECONDS):
        return  # another reader or request is doing it
    logger.warning("chat: the generation %s lost its lease without finishing: closing it as incomplete", generation_id)
    assembler = MessageAssembler()
    for _, fields in await client.xrange(log_key(generation_id)):
        data = fields.get(b"d", b"")
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
        content=assembler.message(assembler.metadata or None),  # as its readers assembled it
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
        if generation_id != active and not await _owner_seems_alive(generation_id):
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
    hub = log_hub()
    log = log_key(generation_id)
    last: Any = "0-0"
    async with hub.subscribe(log) as subscription:
        read_myself = True  # first, and whenever the hub's deliveries may have a gap
        while True:
            subscription.event.clear()
            entries = None if read_myself else subscription.take(last)
            if entries is None:
                try:
                    response = await client.xread({log: last}, count=256)
                except RedisError:
                    logger.warning("chat resume: reading the log failed; retrying")
                    yield KEEPALIVE
                    await asyncio.sleep(0.5)
                    continue
                entries = response[0][1] if response else []
                read_myself = False
                if entries:
                    hub.seen(log, entries[-1][0])
            if entries:
                for entry_id, fields in entries:
                    last = entry_id
                    data = fields.get(b"d")
                    if data is None:  # a stop request, for the owner
                        continue
                    yield data
                    if data == DONE:
                        return
                continue
            try:
                await asyncio.wait_for(subscription.event.wait(), timeout=max(chat_settings.KEEPALIVE_SECONDS, 0.05))
                continue
            except TimeoutError:
                pass
            # Nothing new for a while: if the lease has lapsed without a `[DONE]`, the owner is gone
            # (the owner frees the lease and logs `[DONE]` in one step: look again before deciding).
            with contextlib.suppress(RedisError):
                if await active_generation(thread_id) != generation_id:
                    if await client.xread({log: last}, count=1):
                        read_myself = True
                        continue
                    if await _owner_seems_alive(generation_id):
                        yield KEEPALIVE
                        continue
                    if not await client.exists(log):
                        yield encode(error_chunk(LOST_MESSAGE))
                        yield DONE
                        return
                    await _reap(thread_id, workspace, generation_id)
                    read_myself = True
            yield KEEPALIVE
