"""The chat database threads: successive calls go to the thread that went idle last (still holding its connection)."""

from __future__ import annotations

import asyncio
import threading

import pytest
from django.db import connection

from threads.chat import dbgate

pytestmark = pytest.mark.django_db(transaction=True)


def _where() -> tuple[str, str]:
    connection.ensure_connection()
    return threading.current_thread().name, connection.vendor


def test_successive_database_calls_run_on_the_thread_that_idled_last():
    async def calls() -> list[tuple[str, str]]:
        return [await dbgate.run_db(_where) for _ in range(5)]

    seen = asyncio.run(calls())
    assert {name for name, _ in seen} == {seen[0][0]}  # one thread, so one connection, for back-to-back calls
    assert seen[0][0].startswith("chat-db-")


def test_sqlite_has_one_database_thread_and_postgresql_the_setting(settings):
    settings.CHAT = {**settings.CHAT, "DB_CONCURRENCY": 7}
    assert dbgate.thread_count() == (1 if connection.vendor == "sqlite" else 7)
