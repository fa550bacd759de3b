"""One test run's own resources, so several runs can share a machine (and its PostgreSQL and Redis).

Imported by `config.test_settings` before Django starts, once per run:

- `RUN_ID`: `<pid>_<random>`, unique per run; inherited by the run's subprocesses through `CHAT_TEST_RUN_ID`.
- `RUN_DIR`: a directory of the run (on tmpfs when there is one), removed when the run ends; holds the file-backed
  SQLite test database.
- `REDIS_URL`: a Redis database number (1..15) leased by this run alone: an exclusive `flock` on a lock file per
  server and number, released by the kernel when the run ends, however it ends. The app's raw Redis keys (the
  resumable-chat log, `chat:active:*`, `chat:log:*`, `chat:stop:*`, `chat:reaped:*`) take no prefix, so a database
  of its own is what keeps two runs apart. The number asked for in `CACHE_URL` is taken when it is free.
- `CACHE_KEY_PREFIX`: the Django cache's `KEY_PREFIX` of the run; `clear_cache()` deletes only those keys.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import secrets
import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

RUN_ID_ENV = "CHAT_TEST_RUN_ID"
REDIS_URL_ENV = "CHAT_TEST_REDIS_URL"
LOCK_DIR = Path(tempfile.gettempdir()) / "clerk-chat-tests-locks"
# Tried after the database CACHE_URL names. Older copies of the suite hard-code 9, 13, 14 and 15 (and the
# benchmarks 12 and 13), and 0 is everyone's default: those come last or not at all.
REDIS_DB_ORDER = [1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 9]

_owner = RUN_ID_ENV not in os.environ
RUN_ID: str = os.environ.setdefault(RUN_ID_ENV, f"{os.getpid()}_{secrets.token_hex(3)}")
CACHE_KEY_PREFIX = f"test_{RUN_ID}"


def _run_dir() -> Path:
    base = Path("/dev/shm") if os.access("/dev/shm", os.W_OK) else Path(tempfile.gettempdir())
    path = base / f"clerk-chat-tests-{RUN_ID}"
    path.mkdir(mode=0o700, exist_ok=True)
    if _owner:
        atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


RUN_DIR = _run_dir()
_leases: list[int] = []  # file descriptors of the locks this process holds, open until it exits


def _try_lock(server: str, db: int) -> bool:
    LOCK_DIR.mkdir(mode=0o777, exist_ok=True)
    path = LOCK_DIR / f"redis-{server.replace(':', '_').replace('/', '_')}-{db}.lock"
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except PermissionError:
        fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return False
    _leases.append(fd)
    return True


def lease_redis_url(cache_url: str) -> str:
    """`redis://host:port/<n>` with a database number no other run holds, on CACHE_URL's server (or the local one)."""
    if REDIS_URL_ENV in os.environ:  # a subprocess of the run: the run's lease
        return os.environ[REDIS_URL_ENV]
    parts = urlsplit(cache_url) if cache_url.startswith(("redis://", "rediss://")) else None
    scheme = parts.scheme if parts else "redis"
    netloc = parts.netloc if parts else "127.0.0.1:6379"
    asked = parts.path.strip("/") if parts else ""
    order = REDIS_DB_ORDER if not asked.isdigit() else [int(asked), *(n for n in REDIS_DB_ORDER if n != int(asked))]
    for db in order:
        if _try_lock(netloc.rsplit("@", 1)[-1], db):
            url = f"{scheme}://{netloc}/{db}"
            os.environ[REDIS_URL_ENV] = url
            return url
    raise RuntimeError(f"every Redis database 1..15 of {netloc} is held by another test run (locks in {LOCK_DIR})")


REDIS_URL = lease_redis_url(os.environ.get("CACHE_URL", ""))


def redis_db() -> int:
    return int(urlsplit(REDIS_URL).path.strip("/"))


def clear_cache() -> None:
    """Empty this run's part of Django's cache: every key under the run's prefix on Redis, all of a local cache."""
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    backend = caches["default"]
    if not (isinstance(backend, RedisCache) and backend.key_prefix):
        backend.clear()
        return
    client = backend._cache.get_client(write=True)
    keys = list(client.scan_iter(match=f"{backend.key_prefix}:*", count=1000))
    if keys:
        client.delete(*keys)


def end_other_sessions() -> None:
    """Before the run's PostgreSQL database is dropped: close this thread's connection, then end any other session
    still on the database (a thread a test left running, say), with a warning naming it. PostgreSQL refuses to drop
    a database in use, and the run's database would be left on the server."""
    import warnings

    from django.db import connection, connections

    if connection.vendor != "postgresql":
        return
    connections.close_all()
    raw = connection.get_new_connection(connection.get_connection_params())
    try:
        with raw.cursor() as cursor:
            cursor.execute(
                "SELECT pid, application_name, state, left(query, 120), pg_terminate_backend(pid) "
                "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            ended = cursor.fetchall()
    finally:
        raw.close()
    for pid, application, state, query in (row[:4] for row in ended):
        warnings.warn(
            f"a session was left on the test database: pid {pid} {application!r} {state}: {query}", stacklevel=2
        )
