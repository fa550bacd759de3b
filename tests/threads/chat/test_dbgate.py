"""The chat database threads: successive calls go to the thread that went idle last (still holding its connection)."""

from __future__ import annotations

import asyncio
import threading

import pytest
from django.db import DEFAULT_DB_ALIAS, connection, connections

from tests.support.backends import wait_until_gone
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


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


postgresql_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL backends")


def _chat_thread_backend() -> int:
    """The backend a chat database thread's connection is served by (a call of its own, on a loop of its own)."""

    async def call() -> int:
        return await dbgate.run_db(_backend_pid)

    return asyncio.run(call())


@postgresql_only
def test_an_idle_database_thread_keeps_its_connection_for_the_next_turn(settings):
    """A user's next turn, a while later, reuses the connection: no new server process before the model call."""
    settings.CHAT = {**settings.CHAT, "DB_KEEP_SECONDS": 30.0}

    async def two_calls_apart() -> tuple[int, int]:
        first = await dbgate.run_db(_backend_pid)
        await asyncio.sleep(1.2)  # a while later (the check before the call costs no round trip)
        return first, await dbgate.run_db(_backend_pid)

    first, second = asyncio.run(two_calls_apart())
    assert first == second


@postgresql_only
def test_a_kept_connection_the_server_dropped_is_replaced_not_failed_on(settings):
    settings.CHAT = {**settings.CHAT, "DB_KEEP_SECONDS": 30.0}

    first = _chat_thread_backend()
    with connection.cursor() as cursor:  # the test's own connection ends the chat thread's backend
        cursor.execute("SELECT pg_terminate_backend(%s)", [first])
    wait_until_gone(first)  # the server has ended it: no wait for an idle period before it is checked
    assert _chat_thread_backend() != first


@postgresql_only
def test_a_kept_connection_is_checked_without_a_round_trip(settings):
    """The check before a call is a poll of the socket, not a `SELECT 1`: when the call starts, the last statement
    the server ran on that session is still the previous call's."""
    settings.CHAT = {**settings.CHAT, "DB_KEEP_SECONDS": 30.0}

    def last_statement_of_this_session() -> str:
        pid = connection.connection.info.backend_pid  # known to the client: no statement
        observer = connections.create_connection(DEFAULT_DB_ALIAS)
        try:
            with observer.cursor() as cursor:
                cursor.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid])
                return cursor.fetchone()[0]
        finally:
            observer.close()

    async def calls_apart() -> str:
        await dbgate.run_db(_backend_pid)
        await asyncio.sleep(1.2)  # idle longer than CHECK_AFTER_SECONDS, which used to cost a `SELECT 1`
        return await dbgate.run_db(last_statement_of_this_session)

    assert asyncio.run(calls_apart()) == "SELECT pg_backend_pid()"


@postgresql_only
def test_with_no_keep_an_idle_thread_gives_its_connection_back(settings):
    settings.CHAT = {**settings.CHAT, "DB_KEEP_SECONDS": 0.0}

    wait_until_gone(_chat_thread_backend())
