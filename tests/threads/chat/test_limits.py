"""Rate and concurrent-stream limits live in the shared cache (Redis), so every worker enforces the same budget."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis

from chatauth.caller import Workspace
from tests.support.chat import chat_body
from tests.support.isolation import REDIS_URL, RUN_ID
from tests.support.openai_server import Reply
from tests.support.redis_server import redis_up
from threads import services
from threads.chat.limits import GENERATIONS, READERS, LimitExceeded, OwnedSlot, acquire_slot, check_rate

PREFIX = f"test-limits-{RUN_ID}"  # this run's; each test adds its own part


pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not redis_up(REDIS_URL), reason=f"needs Redis ({REDIS_URL})"),
]


@pytest.fixture
def shared_cache(settings: Any) -> Iterator[redis.Redis]:
    """Django's cache on Redis under a prefix of its own; yields a separate client, as another worker would hold."""
    prefix = f"{PREFIX}-{secrets.token_hex(4)}"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": prefix,
        }
    }
    other = redis.Redis.from_url(REDIS_URL)
    yield other
    for key in other.scan_iter(f"{prefix}:*"):
        other.delete(key)


def _keys(other: redis.Redis, fragment: str) -> list[bytes]:
    return [k for k in other.scan_iter(f"{PREFIX}-*:{fragment}*")]


def test_the_request_count_is_kept_in_redis_with_an_expiry(settings, shared_cache):
    settings.CHAT = {"RATE_LIMIT_REQUESTS": 5, "RATE_LIMIT_WINDOW_SECONDS": 60}
    assert check_rate("user_l") is None
    (key,) = _keys(shared_cache, "ratelimit:chat:")
    assert 0 < shared_cache.ttl(key) <= 60
    assert shared_cache.zcard(key) == 1  # a sliding log: one member per request in the window


def test_the_rate_limit_counts_every_workers_requests(settings, shared_cache):
    settings.CHAT = {"RATE_LIMIT_REQUESTS": 3, "RATE_LIMIT_WINDOW_SECONDS": 60}
    assert check_rate("user_l") is None
    (key,) = _keys(shared_cache, "ratelimit:chat:")
    seconds, micros = shared_cache.time()
    now = seconds + micros / 1_000_000
    shared_cache.zadd(key, {"other-worker-1": now, "other-worker-2": now})  # served by another worker just now
    limited = check_rate("user_l")
    assert limited is not None and 1 <= limited.retry_after <= 60


async def _take(user: str = "user_l", kind=GENERATIONS) -> OwnedSlot:
    """A slot handed over out of `acquire_slot`, as a generation takes it."""
    async with acquire_slot(user, kind) as lease:
        return lease.transfer()


def take(user: str = "user_l", kind=GENERATIONS) -> OwnedSlot | None:
    try:
        return asyncio.run(_take(user, kind))
    except LimitExceeded:
        return None


def test_a_crashed_streams_slot_expires_on_its_own(settings, shared_cache):
    settings.CHAT = {"MAX_CONCURRENT_STREAMS": 1, "MAX_DURATION_SECONDS": 120}
    held = take()  # never released: its worker died
    assert held is not None
    assert take() is None
    (key,) = _keys(shared_cache, "chat:slot:")
    assert 120 < shared_cache.ttl(key) <= 150
    shared_cache.pexpire(key, 1)  # the TTL running out, without waiting two minutes
    while shared_cache.exists(key):
        pass
    assert take() is not None


def test_releasing_a_slot_leaves_a_newer_holders_slot_alone(settings, shared_cache):
    settings.CHAT = {"MAX_CONCURRENT_STREAMS": 1}
    old = take()
    assert old is not None
    (key,) = _keys(shared_cache, "chat:slot:")
    shared_cache.delete(key)  # expired, and then taken by a new stream:
    assert take() is not None
    asyncio.run(old.release())
    assert take() is None


def test_leaving_the_block_releases_a_slot_that_was_not_handed_over(settings, shared_cache):
    settings.CHAT = {"MAX_CONCURRENT_STREAMS": 1}

    async def scenario() -> None:
        async with acquire_slot("user_l"):
            with pytest.raises(LimitExceeded):
                async with acquire_slot("user_l"):
                    pass
        with pytest.raises(ValueError):
            async with acquire_slot("user_l"):
                raise ValueError("a failure inside the block")
        task = asyncio.create_task(_hold_forever())
        await asyncio.sleep(0.05)
        task.cancel()  # a client that went away while the view ran
        with pytest.raises(asyncio.CancelledError):
            await task
        async with acquire_slot("user_l") as lease:
            owned = lease.transfer()
            with pytest.raises(RuntimeError):
                lease.transfer()  # one owner at a time
        assert owned.held and _keys(shared_cache, "chat:slot:")  # the block's end leaves a handed-over slot alone
        await owned.release()
        await owned.release()  # idempotent: the second release does nothing (and frees no one else's slot)
        assert not owned.held

    async def _hold_forever() -> None:
        async with acquire_slot("user_l"):
            await asyncio.sleep(3600)

    asyncio.run(scenario())
    assert _keys(shared_cache, "chat:slot:") == []


def test_reader_slots_are_a_separate_budget(settings, shared_cache):
    settings.CHAT = {"MAX_CONCURRENT_STREAMS": 1, "MAX_STREAM_READERS": 2}
    assert take() is not None
    assert take(kind=READERS) is not None and take(kind=READERS) is not None
    assert take(kind=READERS) is None
    assert take("user_other", READERS) is not None
    assert len(_keys(shared_cache, "chat:reader:")) == 3


def test_the_endpoint_answers_429_from_the_shared_count(settings, shared_cache, chat_on, post_chat):
    settings.CHAT = {**settings.CHAT, "RATE_LIMIT_REQUESTS": 1}
    assert post_chat(chat_body("thread_l1")).status_code == 200
    limited = post_chat(chat_body("thread_l2"))
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.json()["error"] == "rate_limited"
    assert len(chat_on.chat_requests) == 1


def _wait_until(condition: Any, timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_no_way_out_of_a_chat_leaks_its_stream_slot(
    settings, shared_cache, chat_on, post_chat, live_server_url, make_token
):
    """The slot-leak check: every ending of POST /api/chat gives the user's one slot back."""
    settings.CHAT = {**settings.CHAT, "MAX_CONCURRENT_STREAMS": 1}
    services.thread_create(workspace=Workspace("user_owner"), thread_id="thread_foreign")
    assert post_chat(chat_body("thread_foreign")).status_code == 404
    assert _keys(shared_cache, "chat:slot:") == []
    assert post_chat(b"{not json").status_code == 400
    chat_on.script(Reply(status=500))
    assert post_chat(chat_body("thread_l500")).status_code == 200
    assert _keys(shared_cache, "chat:slot:") == []
    chat_on.script(Reply(deltas=["a", "b", "c"], drop_after=2))
    assert "error" in post_chat(chat_body("thread_ldrop")).text
    assert _keys(shared_cache, "chat:slot:") == []
    chat_on.script(Reply(deltas=[f" w{i}" for i in range(200)], delay=0.05))
    headers = {"Authorization": f"Bearer {make_token('user_chat')}"}
    with httpx.stream("POST", f"{live_server_url}/api/chat", json=chat_body("thread_lgone"), headers=headers) as gone:
        for line in gone.iter_lines():
            if line.startswith('data: {"type":"text-delta"'):
                break  # the client leaves mid-reply
    assert _wait_until(lambda: _keys(shared_cache, "chat:slot:") == [])
    assert post_chat(chat_body("thread_lok")).status_code == 200
    assert _keys(shared_cache, "chat:slot:") == []


def _admitted(user: str = "user_l") -> OwnedSlot | None:
    async def scenario() -> OwnedSlot:
        async with acquire_slot(user, GENERATIONS, counting="chat") as lease:
            return lease.transfer()

    try:
        return asyncio.run(scenario())
    except LimitExceeded as exc:
        assert exc.limited.retry_after >= 1
        return None


def test_a_turns_admission_counts_in_the_same_sliding_log_as_every_other_rate_check(settings, shared_cache):
    """The admission script and `check_rate` share one budget: neither can be used to pass the other."""
    settings.CHAT = {"RATE_LIMIT_REQUESTS": 2, "RATE_LIMIT_WINDOW_SECONDS": 60, "MAX_CONCURRENT_STREAMS": 5}
    assert check_rate("user_l") is None
    assert _admitted() is not None
    assert check_rate("user_l") is not None  # the admission's hit was the second of two
    (key,) = _keys(shared_cache, "ratelimit:chat:")
    assert shared_cache.zcard(key) == 2


def test_a_turn_over_its_rate_takes_no_slot(settings, shared_cache):
    settings.CHAT = {"RATE_LIMIT_REQUESTS": 1, "RATE_LIMIT_WINDOW_SECONDS": 60, "MAX_CONCURRENT_STREAMS": 5}
    assert _admitted() is not None
    assert len(_keys(shared_cache, "chat:slot:")) == 1
    assert _admitted() is None
    assert len(_keys(shared_cache, "chat:slot:")) == 1


def test_a_slot_taken_by_the_admission_script_is_the_caches_own_value(settings, shared_cache):
    """Written from the event loop, read through Django's cache (another worker may use either): the same token."""
    from django.core.cache import cache

    settings.CHAT = {"RATE_LIMIT_REQUESTS": 10, "MAX_CONCURRENT_STREAMS": 1}
    slot = _admitted()
    assert slot is not None and cache.get(slot.key) == slot.token
    asyncio.run(slot.release())
    assert cache.get(slot.key) is None


def test_the_admission_survives_a_redis_that_forgot_its_scripts(settings, shared_cache):
    """Scripts go as EVALSHA; a Redis restarted (or `SCRIPT FLUSH`ed) is sent the text once, and caches it again."""
    from threads.chat.limits import _ADMIT
    from threads.chat.logbus import _script_sha

    settings.CHAT = {"RATE_LIMIT_REQUESTS": 10, "MAX_CONCURRENT_STREAMS": 2}
    shared_cache.script_flush()
    slot = _admitted()
    assert slot is not None
    assert shared_cache.script_exists(_script_sha(_ADMIT)) == [True]
    assert _admitted() is not None  # this time by its SHA alone
    assert len(_keys(shared_cache, "chat:slot:")) == 2
