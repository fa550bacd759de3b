"""The sliding-window rate limit: the budget holds across what would be a fixed window's boundary."""

from __future__ import annotations

import time
from typing import Any

import pytest

from config import ratelimit
from tests.support.isolation import REDIS_URL
from tests.support.redis_server import redis_up


@pytest.fixture(params=["locmem", "redis"])
def any_cache(request: Any, settings: Any) -> str:
    if request.param == "redis":
        if not redis_up(REDIS_URL):
            pytest.skip("Redis is not running on 127.0.0.1:6379")
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": REDIS_URL,
                "KEY_PREFIX": f"test-ratelimit-{time.time_ns()}",
            }
        }
    return request.param


def test_the_budget_is_allowed_then_refused_with_a_retry_after(any_cache):
    hits = [ratelimit.hit("t", "subject", limit=3, window=60, what="tests") for _ in range(4)]
    assert hits[:3] == [None, None, None]
    assert hits[3] is not None and 1 <= hits[3].retry_after <= 60 and "at most 3 per 60 s" in hits[3].message


def test_subjects_have_budgets_of_their_own(any_cache):
    for _ in range(2):
        ratelimit.hit("t", "a", limit=2, window=60, what="tests")
    assert ratelimit.hit("t", "a", limit=2, window=60, what="tests") is not None
    assert ratelimit.hit("t", "b", limit=2, window=60, what="tests") is None


def test_the_budget_holds_across_a_window_boundary(any_cache):
    """A fixed 4-second window resets at its boundary and would let 2x the budget through around it; the sliding
    log keeps refusing until the oldest hit is a whole window old. (Seconds of slack on either side of each check:
    a stalled machine must not decide it.)"""
    window = 4.0
    while not window - 0.8 < time.time() % window < window - 0.4:  # start just before a fixed-window boundary
        time.sleep(0.02)
    start = time.monotonic()
    for _ in range(3):
        assert ratelimit.hit("t", "edge", limit=3, window=window, what="tests") is None
    time.sleep(1.0)  # past that boundary, about 3 s before the hits are a whole window old
    assert ratelimit.hit("t", "edge", limit=3, window=window, what="tests") is not None
    time.sleep(max(0.0, start + window + 0.5 - time.monotonic()))
    assert ratelimit.hit("t", "edge", limit=3, window=window, what="tests") is None


def test_a_zero_budget_refuses_everything(any_cache):
    assert ratelimit.hit("t", "z", limit=0, window=60, what="title requests") is not None


def test_with_a_redis_cache_the_log_is_a_sorted_set_every_worker_shares(settings):
    if not redis_up(REDIS_URL):
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    import redis

    prefix = f"test-ratelimit-shared-{time.time_ns()}"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": prefix,
        }
    }
    assert ratelimit.hit("t", "shared", limit=2, window=60, what="tests") is None
    other_worker = redis.Redis.from_url(REDIS_URL)
    (key,) = list(other_worker.scan_iter(f"{prefix}:*"))
    assert other_worker.type(key) == b"zset" and other_worker.zcard(key) == 1
    other_worker.zadd(key, {"hit-on-another-worker": time.time()})
    assert ratelimit.hit("t", "shared", limit=2, window=60, what="tests") is not None
    other_worker.delete(key)
