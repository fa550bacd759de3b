"""Several ASGI worker processes share PostgreSQL and Redis: one JWKS cache, one chat rate limit.

Two real `uvicorn` processes, each with its own memory, serve the same database and cache. The
JWKS endpoint counts its requests; the rate limit is counted across both workers.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import httpx
import pytest
from django.db import connection

from chatauth.caller import Workspace
from tests.conftest import ISSUER
from tests.support.isolation import REDIS_URL
from tests.support.keys import session_claims
from tests.support.workers import Worker, worker_env, worker_pair
from threads.models import Thread

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs DATABASE_URL pointing to PostgreSQL (and Redis)"
)


@pytest.fixture
def clerk_workers(transactional_db, jwks_server) -> Iterator[tuple[Worker, Worker]]:
    """Two production-mode worker processes (Clerk JWKS on loopback, chat rate limit 2 an hour) sharing the test
    database and the run's Redis database."""
    db = connection.settings_dict
    env = worker_env(
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        CACHE_URL=REDIS_URL,
        # A query string unique to this run, so a JWKS cached in Redis by an earlier run is never reused.
        CLERK_JWKS_URL=f"{jwks_server.url}?run={secrets.token_hex(6)}",
        CLERK_ISSUER=ISSUER,
        CHAT_RATE_LIMIT_REQUESTS="2",
        CHAT_RATE_LIMIT_WINDOW_SECONDS="3600",
    )
    with worker_pair(env) as pair:
        yield pair


def bearer(signing_key, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {signing_key.sign(session_claims(sub=user, issuer=ISSUER))}"}


def test_two_workers_fetch_the_jwks_once_between_them(clerk_workers, jwks_server, signing_key):
    a, b = clerk_workers
    headers = bearer(signing_key, f"user_{secrets.token_hex(4)}")
    assert httpx.get(f"{a.url}/api/me", headers=headers, timeout=10).status_code == 200
    assert jwks_server.hits == 1
    for worker in (b, a, b):
        assert httpx.get(f"{worker.url}/api/me", headers=headers, timeout=10).status_code == 200
    assert jwks_server.hits == 1


def test_two_workers_see_the_same_data(clerk_workers, signing_key):
    a, b = clerk_workers
    headers = bearer(signing_key, f"user_{secrets.token_hex(4)}")
    created = httpx.post(f"{a.url}/api/threads", headers=headers, json={"title": "shared"}, timeout=10)
    assert created.status_code == 201, created.text
    listed = httpx.get(f"{b.url}/api/threads", headers=headers, timeout=10).json()
    assert [t["title"] for t in listed["threads"]] == ["shared"]


def test_two_workers_count_one_chat_rate_limit(clerk_workers, signing_key):
    pytest.importorskip("threads.chat.limits")
    a, b = clerk_workers
    user = f"user_{secrets.token_hex(4)}"
    # Someone else's thread: each chat request is counted, then answered 404 without running a model.
    other = Workspace(user_id="user_someone_else")
    foreign = Thread.unscoped_for_operators.create(workspace_key=other.key, user_id=other.user_id)
    body = {"id": foreign.id, "messages": [{"id": "m1", "role": "user", "parts": [{"type": "text", "text": "hi"}]}]}
    headers = bearer(signing_key, user)
    statuses = [httpx.post(f"{w.url}/api/chat", headers=headers, json=body, timeout=10) for w in (a, b, a, b)]
    assert [r.status_code for r in statuses] == [404, 404, 429, 429], statuses[-1].text
    assert statuses[2].json()["error"] == "rate_limited"
