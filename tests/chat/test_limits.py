"""Rate and concurrent-stream limits live in the shared cache (Redis), so every worker enforces the same budget."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from tests.chat.conftest import chat_body
from tests.support.isolation import REDIS_URL, RUN_ID
from tests.support.redis_server import redis_up
from threads.chat.limits import StreamSlot, acquire_stream_slot, check_rate

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
    (key,) = _keys(shared_cache, "chat:rate:")
    assert 0 < shared_cache.ttl(key) <= 65


def test_the_rate_limit_counts_every_workers_requests(settings, shared_cache):
    settings.CHAT = {"RATE_LIMIT_REQUESTS": 3, "RATE_LIMIT_WINDOW_SECONDS": 60}
    assert check_rate("user_l") is None
    (key,) = _keys(shared_cache, "chat:rate:")
    shared_cache.incr(key, 2)  # two requests served by another worker in the same window
    limited = check_rate("user_l")
    assert limited is not None and 1 <= limited.retry_after <= 60


def test_a_crashed_streams_slot_expires_on_its_own(settings, shared_cache):
    settings.CHAT = {"MAX_CONCURRENT_STREAMS": 1, "MAX_DURATION_SECONDS": 120}
    held = acquire_stream_slot("user_l")  # never released: its worker died
    assert isinstance(held, StreamSlot)
    assert not isinstance(acquire_stream_slot("user_l"), StreamSlot)
    (key,) = _keys(shared_cache, "chat:slot:")
    assert 120 < shared_cache.ttl(key) <= 150
    shared_cache.pexpire(key, 1)  # the TTL running out, without waiting two minutes
    while shared_cache.exists(key):
        pass
    assert isinstance(acquire_stream_slot("user_l"), StreamSlot)


def test_releasing_a_slot_leaves_a_newer_holders_slot_alone(settings, shared_cache):
    settings.CHAT = {"MAX_CONCURRENT_STREAMS": 1}
    old = acquire_stream_slot("user_l")
    assert isinstance(old, StreamSlot)
    (key,) = _keys(shared_cache, "chat:slot:")
    shared_cache.delete(key)  # expired, and then taken by a new stream:
    new = acquire_stream_slot("user_l")
    assert isinstance(new, StreamSlot)
    old.release()
    assert not isinstance(acquire_stream_slot("user_l"), StreamSlot)


def test_the_endpoint_answers_429_from_the_shared_count(settings, shared_cache, chat_on, post_chat):
    settings.CHAT = {**settings.CHAT, "RATE_LIMIT_REQUESTS": 1}
    assert post_chat(chat_body("thread_l1")).status_code == 200
    limited = post_chat(chat_body("thread_l2"))
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.json()["error"] == "rate_limited"
    assert len(chat_on.chat_requests) == 1
