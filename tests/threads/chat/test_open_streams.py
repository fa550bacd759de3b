"""Open streams hold no database connection, and a user's open resumed streams are capped (issue 14).

Over real HTTP (uvicorn on loopback) with PostgreSQL and Redis: more resumed streams open at once than the
PostgreSQL server accepts connections, while another user's requests and the readiness check still answer.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from django.db import connection

from chatauth.caller import Workspace
from tests.support.chat import chat_body
from tests.support.isolation import REDIS_URL
from tests.support.openai_server import Reply
from tests.support.redis_server import redis_up
from threads import services

LONG = Reply(deltas=[f" w{i}" for i in range(3000)], delay=0.05)  # runs until the test stops it

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not redis_up(REDIS_URL), reason="resumable mode needs Redis at 127.0.0.1:6379"),
]
needs_postgres = pytest.mark.skipif(connection.vendor != "postgresql", reason="counts PostgreSQL connections")


@pytest.fixture
def resumable(resumable: Any, settings: Any) -> Any:
    """The chat conftest's resumable mode, with a lease and keep-alive long enough for many slow readers."""
    settings.CHAT = {**settings.CHAT, "LEASE_SECONDS": 5, "KEEPALIVE_SECONDS": 5.0}
    return resumable


class Reader:
    """GET /api/chat/{id}/stream on a raw socket, kept open: a browser tab following a reply."""

    def __init__(self, base_url: str, token: str, thread_id: str) -> None:
        url = urlsplit(base_url)
        self.sock = socket.create_connection((url.hostname, url.port), timeout=30)
        self.sock.sendall(
            f"GET /api/chat/{thread_id}/stream HTTP/1.1\r\nHost: {url.hostname}\r\n"
            f"Authorization: Bearer {token}\r\n\r\n".encode()
        )
        self.received = b""

    def wait_for(self, marker: bytes) -> bytes:
        while marker not in self.received:
            piece = self.sock.recv(65536)
            if not piece:
                break
            self.received += piece
        return self.received

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def readers() -> Iterator[list[Reader]]:
    opened: list[Reader] = []
    yield opened
    for reader in opened:
        reader.close()


def _start_long_reply(base_url: str, token: str, thread_id: str) -> None:
    """POST a reply that runs until stopped, and leave once it has started."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.stream("POST", f"{base_url}/api/chat", json=chat_body(thread_id), headers=headers, timeout=30) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if '"text-delta"' in line:
                break


def _backends() -> int:
    """Connections to the test database other than this test's own."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


@needs_postgres
def test_more_open_streams_than_postgresql_connections_leave_other_users_served(
    settings, resumable, live_server_url, make_token, readers
):
    with connection.cursor() as cursor:
        cursor.execute("SHOW max_connections")
        max_connections = int(cursor.fetchone()[0])
    # Four database threads: the worker's connections are theirs (kept between calls), at most four, however many
    # streams are open.
    settings.CHAT = {**settings.CHAT, "MAX_STREAM_READERS": max_connections + 50, "DB_CONCURRENCY": 4}
    token = make_token("user_tabs")
    resumable.script(LONG)
    _start_long_reply(live_server_url, token, "thread_many_tabs")
    for _ in range(max_connections + 20):
        readers.append(Reader(live_server_url, token, "thread_many_tabs"))
    for reader in readers:
        assert reader.wait_for(b'"text-delta"').startswith(b"HTTP/1.1 200")
    # Every reader is open and following the reply; none holds a database connection.
    assert _backends() <= 4 + 2  # the database threads', and at most two of requests being answered
    other = {"Authorization": f"Bearer {make_token('user_other')}"}
    assert httpx.get(f"{live_server_url}/api/threads", headers=other, timeout=30).status_code == 200
    ready = httpx.get(f"{live_server_url}/readyz", timeout=30)
    assert ready.status_code == 200, ready.text
    created = httpx.post(f"{live_server_url}/api/threads", json={"title": "t"}, headers=other, timeout=30)
    assert created.status_code == 201
    assert _backends() <= 4 + 2
    stop = httpx.delete(
        f"{live_server_url}/api/chat/thread_many_tabs/stream", headers={"Authorization": f"Bearer {token}"}
    )
    assert stop.status_code == 200
    for reader in readers:
        received = reader.wait_for(b"data: [DONE]")
        assert b'data: {"type":"abort"}' in received and b"data: [DONE]\n\n" in received


def test_a_users_open_resumed_streams_are_capped(settings, resumable, live_server_url, make_token, readers):
    settings.CHAT = {**settings.CHAT, "MAX_STREAM_READERS": 3}
    token = make_token("user_capped")
    headers = {"Authorization": f"Bearer {token}"}
    resumable.script(LONG)
    _start_long_reply(live_server_url, token, "thread_capped")
    for _ in range(3):
        readers.append(Reader(live_server_url, token, "thread_capped"))
        assert readers[-1].wait_for(b'"text-delta"').startswith(b"HTTP/1.1 200")
    refused = httpx.get(f"{live_server_url}/api/chat/thread_capped/stream", headers=headers, timeout=30)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.json()["error"] == "rate_limited" and "at most 3" in refused.json()["message"]
    # Another user's readers are not counted against this one (the thread is theirs in their workspace).
    services.thread_create(workspace=Workspace("user_else"), thread_id="thread_else")
    other = {"Authorization": f"Bearer {make_token('user_else')}"}
    assert httpx.get(f"{live_server_url}/api/chat/thread_else/stream", headers=other, timeout=30).status_code == 204
    # A tab that closes gives its place back.
    readers.pop().close()
    replacement = None
    for _ in range(200):
        replacement = Reader(live_server_url, token, "thread_capped")
        head = replacement.wait_for(b"\r\n\r\n")
        if head.startswith(b"HTTP/1.1 200"):
            break
        replacement.close()
        replacement = None
    assert replacement is not None
    readers.append(replacement)
    assert httpx.delete(f"{live_server_url}/api/chat/thread_capped/stream", headers=headers).status_code == 200
