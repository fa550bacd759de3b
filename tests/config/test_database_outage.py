"""When the database becomes unreachable, API calls answer 503 JSON, and recover by themselves when it is back.

The outage is real: a worker process reaches PostgreSQL through a loopback proxy the test cuts, or
its SQLite file through a directory the test moves away.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from django.db import connection

from tests.conftest import ISSUER
from tests.support.keys import session_claims
from tests.support.workers import TcpProxy, Worker, migrate, worker_env

is_postgres = connection.vendor == "postgresql"


@pytest.fixture
def token(signing_key) -> str:
    return signing_key.sign(session_claims(sub=f"user_outage_{secrets.token_hex(4)}", issuer=ISSUER))


def assert_outage_and_recovery(worker: Worker, token: str, cut: Callable[[], None], restore: Callable[[], None]):
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{worker.url}/api/threads", headers=headers, timeout=10).status_code == 200

    cut()
    down = httpx.get(f"{worker.url}/api/threads", headers=headers, timeout=10)
    assert down.status_code == 503
    assert down.headers["content-type"] == "application/json"
    assert down.json() == {
        "error": "database_unavailable",
        "message": "The database is unreachable right now. Retry in a few seconds.",
    }
    assert down.headers["Retry-After"] == "5"
    ready = httpx.get(f"{worker.url}/readyz", timeout=10)
    assert (ready.status_code, ready.json()["checks"]["database"]["ok"]) == (503, False)
    assert httpx.get(f"{worker.url}/healthz", timeout=10).status_code == 200

    restore()
    back = httpx.get(f"{worker.url}/api/threads", headers=headers, timeout=10)
    assert back.status_code == 200, worker.output()
    assert httpx.get(f"{worker.url}/readyz", timeout=10).status_code == 200


@pytest.fixture
def sqlite_worker(tmp_path: Path, jwks_server) -> Iterator[tuple[Worker, Path]]:
    data = tmp_path / "data"
    data.mkdir()
    env = worker_env(
        DATABASE_URL=f"sqlite:///{data / 'db.sqlite3'}",
        CACHE_URL="locmemcache://",
        CLERK_JWKS_URL=jwks_server.url,
        CLERK_ISSUER=ISSUER,
        CHAT_DEV_MODEL="true",  # /readyz also wants a model
    )
    migrate(env)
    worker = Worker(env).wait_ready()
    yield worker, data
    worker.stop()


def test_sqlite_file_gone_gives_503_json_then_recovers(sqlite_worker, token):
    worker, data = sqlite_worker
    away = data.with_name("data-away")
    assert_outage_and_recovery(worker, token, cut=lambda: data.rename(away), restore=lambda: away.rename(data))


@pytest.mark.skipif(not is_postgres, reason="needs DATABASE_URL pointing to PostgreSQL")
def test_postgresql_connection_cut_gives_503_json_then_recovers(transactional_db, jwks_server, token):
    db = connection.settings_dict
    proxy = TcpProxy(db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432))
    env = worker_env(
        DATABASE_URL=f"postgres://{db['USER']}@127.0.0.1:{proxy.port}/{db['NAME']}",
        DATABASE_CONN_MAX_AGE="60",  # persistent connections: the cut breaks one that is already open
        CACHE_URL="locmemcache://",
        CLERK_JWKS_URL=jwks_server.url,
        CLERK_ISSUER=ISSUER,
        CHAT_DEV_MODEL="true",  # /readyz also wants a model
    )
    worker = Worker(env).wait_ready()
    try:
        assert_outage_and_recovery(worker, token, cut=proxy.cut, restore=proxy.restore)
    finally:
        worker.stop()
        proxy.stop()
