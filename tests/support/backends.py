"""PostgreSQL backends as the server lists them (`pg_stat_activity`): how tests count and await the service's
database connections."""

from __future__ import annotations

import time

from django.db import connection


def other_backends() -> int:
    """Backends of this database other than the test's own connection: a baseline taken before the service runs."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def wait_until_gone(pid: int) -> None:
    """Until the server no longer lists the backend (at most 2 s); an `AssertionError` if it still does."""
    with connection.cursor() as cursor:
        for _ in range(100):
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
            if cursor.fetchone()[0] == 0:
                return
            time.sleep(0.02)
    raise AssertionError(f"backend {pid} did not end")


def backends_seen_from_a_new_connection(main_pid: int) -> int:
    """Backends of this database other than `main_pid` (the test's own) and such counters: counted from a
    connection of its own (closed after), so it can be called from any thread."""
    raw = connection.get_new_connection({**connection.get_connection_params(), "application_name": "counter"})
    try:
        with raw.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name <> 'counter' AND pid <> %s",
                [main_pid],
            )
            return cursor.fetchone()[0]
    finally:
        raw.close()
