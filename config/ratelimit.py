"""Sliding-window rate limits, shared by every worker through Redis.

A limit is "at most N hits in any W seconds", checked over a sliding log: each allowed hit is a member of a
Redis sorted set scored by the server's clock (one Lua script: trim, count, add), so the budget holds exactly
at window boundaries (a fixed window lets 2N through across one) and workers with skewed clocks agree.
Without a Redis cache (development) the same log lives in the process's cache, per process.

Keys are hashed (a user id or an address is never written as is) and go through the cache's key function,
so a deployment's `KEY_PREFIX` (and each test run's own prefix) applies.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache

from config import metrics
from config.errors import ApiError

# The sliding window as a Lua function, so another script can count a hit in the same round trip
# (`threads.chat.limits` counts a chat turn and takes its stream slot at once). It returns the seconds to wait
# ('0': the hit is counted).
SLIDING_WINDOW_LUA = """
local function sliding_window_hit(key, window, limit, member)
  local now = redis.call('TIME')
  local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
  window = tonumber(window)
  limit = tonumber(limit)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', t - window)
  if redis.call('ZCARD', key) >= limit then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    return tostring(tonumber(oldest[2]) + window - t)
  end
  redis.call('ZADD', key, t, member)
  redis.call('PEXPIRE', key, math.ceil(window * 1000))
  return '0'
end
"""
_SCRIPT = SLIDING_WINDOW_LUA + "return sliding_window_hit(KEYS[1], ARGV[1], ARGV[2], ARGV[3])"
_local_lock = threading.Lock()


@dataclass(frozen=True)
class Limited:
    """A refused hit: when to retry, and a sentence for the client."""

    retry_after: int
    message: str


def new_member() -> str:
    """A unique member of a sliding log (two hits in the same microsecond are two hits)."""
    return f"{time.time():.6f}:{secrets.token_hex(4)}"


def turned_off(what: str) -> Limited:
    return Limited(60, f"{what[:1].upper()}{what[1:]} are turned off on this server.")


def limited_after(scope: str, wait: float, *, limit: int, window: float, what: str) -> Limited | None:
    """None when `wait` (from the sliding window) is 0; else the refusal, counted in the metrics."""
    if wait <= 0:
        return None
    metrics.rate_limited(scope)
    retry_after = max(1, math.ceil(wait))
    return Limited(retry_after, f"Too many {what}: at most {limit} per {window:g} s. Retry in {retry_after} s.")


def window_key(scope: str, subject: str) -> str:
    """The cache key (before the cache's own prefix) of `subject`'s log in `scope`."""
    return f"ratelimit:{scope}:{hashlib.sha256(subject.encode()).hexdigest()[:32]}"


def _redis_client() -> Any | None:
    """The default cache's redis-py client when the cache is Django's Redis backend, else None."""
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        return None
    return backend._cache.get_client(write=True)


def _wait_redis(client: Any, key: str, limit: int, window: float) -> float:
    return float(client.eval(_SCRIPT, 1, key, window, limit, new_member()))


def _wait_local(key: str, limit: int, window: float) -> float:
    with _local_lock:
        now = time.time()
        log = [t for t in (cache.get(key) or []) if t > now - window]
        if len(log) >= limit:
            return log[0] + window - now
        log.append(now)
        cache.set(key, log, timeout=math.ceil(window) + 1)
        return 0.0


def hit(scope: str, subject: str, *, limit: int, window: float, what: str) -> Limited | None:
    """Count one hit of `subject` (a user id, an address) in `scope`; `Limited` when it is over the budget.

    `what` names the thing limited in the refusal ("title requests", "anonymous sign-ins").
    """
    if limit <= 0:
        return turned_off(what)
    key = window_key(scope, subject)
    client = _redis_client()
    if client is not None:
        wait = _wait_redis(client, cache.make_key(key), limit, window)
    else:
        wait = _wait_local(key, limit, window)
    return limited_after(scope, wait, limit=limit, window=window, what=what)


def enforce(scope: str, subject: str, *, limit: int, window: float, what: str) -> None:
    """`hit`, raising a 429 `rate_limited` (with `Retry-After`) for DRF views when over the budget."""
    limited = hit(scope, subject, limit=limit, window=window, what=what)
    if limited is not None:
        error = ApiError("rate_limited", limited.message, 429)
        error.wait = limited.retry_after  # DRF's handler turns this into Retry-After
        raise error


def client_address(meta: dict[str, Any]) -> str:
    """The caller's address as the server saw it (a proxy in front must pass the real one as REMOTE_ADDR)."""
    return str(meta.get("REMOTE_ADDR") or "unknown")
