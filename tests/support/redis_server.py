"""The local Redis the suite uses for real (CI has it too); tests that need it skip only when it is down."""

from __future__ import annotations

import redis


def redis_up(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False
