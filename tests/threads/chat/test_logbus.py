"""The chat paths' Redis: a bounded, first-come-first-served pool, the hub's read never cut off by its socket, and a
log writer that hands on only what Redis holds."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from tests.support.isolation import REDIS_URL
from threads.chat import logbus
from threads.chat.logbus import FairConnectionPool


def _pool(max_connections: int, wait_timeout: float = 5.0) -> FairConnectionPool:
    return FairConnectionPool.from_url(REDIS_URL, max_connections=max_connections, wait_timeout=wait_timeout)


def test_a_caller_that_returns_a_connection_and_asks_again_does_not_pass_a_waiter() -> None:
    """What a generation's log writer does, batch after batch. redis-py's BlockingConnectionPool gives the
    connection back to the returning caller and sends the woken waiter to the back of the queue: with 500
    generations logging, a request's one claim command waited out the 30 s timeout (issue 17)."""

    async def scenario() -> list[str]:
        pool = _pool(1)
        served: list[str] = []
        held = await pool.get_connection()

        async def take(name: str) -> None:
            connection = await pool.get_connection()
            served.append(name)
            await pool.release(connection)

        waiter = asyncio.create_task(take("waiter"))
        await asyncio.sleep(0.01)  # the waiter is queued
        await pool.release(held)
        await take("returning caller")
        await waiter
        await pool.aclose()
        return served

    assert asyncio.run(scenario()) == ["waiter", "returning caller"]


def test_no_more_connections_are_open_than_the_bound_whatever_the_load() -> None:
    async def scenario() -> int:
        pool = _pool(3)
        peak = 0

        async def command(i: int) -> None:
            nonlocal peak
            connection = await pool.get_connection()
            peak = max(peak, len(pool._in_use_connections))
            await connection.send_command("SET", f"chat:test:pool:{i}", i)
            await connection.read_response()
            await pool.release(connection)

        await asyncio.gather(*(command(i) for i in range(200)))
        created = len(pool._available_connections) + len(pool._in_use_connections)
        await pool.aclose()
        assert peak <= 3
        return created

    assert asyncio.run(scenario()) <= 3


def test_a_caller_that_waits_past_the_timeout_gets_a_redis_error_and_frees_its_place() -> None:
    async def scenario() -> None:
        pool = _pool(1, wait_timeout=0.05)
        held = await pool.get_connection()
        with pytest.raises(RedisConnectionError):
            await pool.get_connection()
        await pool.release(held)
        again = await asyncio.wait_for(pool.get_connection(), 1)  # the timed-out waiter left no permit behind
        await pool.release(again)
        await pool.aclose()

    asyncio.run(scenario())


def test_pipelines_and_commands_return_their_connections() -> None:
    async def scenario() -> None:
        pool = _pool(2)
        client = aioredis.Redis(connection_pool=pool)
        for i in range(20):
            async with client.pipeline(transaction=False) as pipe:
                pipe.set(f"chat:test:pipe:{i}", i)
                pipe.get(f"chat:test:pipe:{i}")
                assert (await pipe.execute())[1] == str(i).encode()
            assert await client.get(f"chat:test:pipe:{i}") == str(i).encode()
        assert pool._permits._value == 2  # every permit back
        await client.aclose()

    asyncio.run(scenario())


def test_an_idle_hubs_blocking_read_is_not_cut_off_by_its_socket(settings: Any, caplog: Any) -> None:
    """With redis-py's default socket timeout (5 s) equal to the hub's 5 s block, an idle hub's read failed
    ("Timeout reading from ...") and was retried, waking every reader to poll."""
    settings.CHAT = {"REDIS_URL": REDIS_URL}

    async def scenario() -> None:
        hub = logbus.log_hub()
        async with hub.subscribe("chat:test:idle-log"):
            await asyncio.sleep(logbus.HUB_BLOCK_MS / 1000 + 1.5)  # one whole block, and its reply
        await hub.blocking.aclose()
        await hub.client.aclose()

    with caplog.at_level("WARNING", logger="threads.chat.logbus"):
        asyncio.run(scenario())
    assert not [r for r in caplog.records if "read failed" in r.getMessage()]


def test_the_log_writer_hands_on_every_frame_once_in_order_and_the_log_holds_them_all() -> None:
    """The starting request is fed from `sent` as each batch leaves for Redis; once drained, the log holds exactly
    what was handed on (a reload after this worker died replays what was on screen)."""
    log = f"chat:test:writer:{uuid.uuid4().hex}"
    looking = redis.Redis.from_url(REDIS_URL)
    handed: list[bytes] = []
    batches: list[int] = []

    def sent(batch: list[bytes]) -> None:
        batches.append(len(batch))
        handed.extend(batch)

    async def scenario() -> None:
        client = aioredis.Redis.from_url(REDIS_URL)
        writer = logbus.LogWriter(client, log, sent=sent)
        for i in range(50):
            writer.write(f"data: {i}\n\n".encode())
            if i % 7 == 0:
                await asyncio.sleep(0)  # let a batch go out while more pile up
        await writer.drain()
        await client.aclose()

    asyncio.run(scenario())
    held = [fields[b"d"] for _, fields in looking.xrange(log)]
    looking.delete(log)
    assert handed == held == [f"data: {i}\n\n".encode() for i in range(50)]
    assert max(batches) > 1  # frames written while a batch was in flight went together


def test_a_batch_retried_after_a_failure_is_handed_on_once() -> None:
    """A connection that fails after the batch was written: the batch is written again, handed on only once."""
    log = f"chat:test:retry:{uuid.uuid4().hex}"
    looking = redis.Redis.from_url(REDIS_URL)
    handed: list[bytes] = []

    async def scenario() -> None:
        client = aioredis.Redis.from_url(REDIS_URL)
        writer = logbus.LogWriter(client, log, sent=handed.extend)
        broken = {"left": 1}
        append = writer._append

        async def failing_once(batch: list[bytes]) -> None:
            if broken["left"]:
                broken["left"] -= 1
                writer._hand_on(batch)  # written and handed on, then the answer is lost
                raise RedisConnectionError("connection lost while reading")
            await append(batch)

        writer._append = failing_once  # type: ignore[method-assign]
        writer.write(b"data: a\n\n")
        writer.write(b"data: b\n\n")
        await asyncio.sleep(0)
        writer.write(b"data: c\n\n")
        await writer.drain()
        await client.aclose()

    asyncio.run(scenario())
    looking.delete(log)
    assert handed == [b"data: a\n\n", b"data: b\n\n", b"data: c\n\n"]
