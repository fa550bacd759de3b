"""A new chat's thread claimed from the event loop, on a PostgreSQL connection of the loop's own.

The claim (`services.thread_claim_statement`) is the one database statement between a new chat's request and its
model call in resumable mode. Through `run_db` it cost two thread hops (0.2-0.25 ms each), and a database thread
whose reply has arrived waits for the loop's CPU work to end before it can read it. Here the statement is sent from
the loop and its reply read as soon as the loop is free (`bench/first_delta.py --pg`: 1.2 ms less to the upstream
request, session 11). The model request is built earlier, during the admission's round trip (`threads.chat.early`).

Bounds and health, as `threads.chat.dbgate`'s threads have them:
- one connection per event loop (per worker), used by one claim at a time. A claim that finds it busy (a burst)
  goes through `run_db` instead, so a worker holds at most `CHAT_DB_CONCURRENCY` + 1 chat connections whatever
  the load, and no stream or waiting request holds one;
- kept `CHAT_DB_KEEP_SECONDS` after its last use, then closed; checked before each use without a round trip
  (`dbgate.hung_up`); closed when its loop ends;
- a claim runs to its end even if its request is cancelled (the statement is shielded), so the connection is
  never left in the middle of a statement; a failed claim closes the connection and the caller falls back to
  `run_db` (the claim is `INSERT ... ON CONFLICT DO NOTHING`: if the failed one did insert, the fallback finds the
  thread in the caller's workspace).

Not used (`claim` answers `UNAVAILABLE`) under Django's test client or another `async_to_sync` caller, whose database
work belongs to its own connection and transaction, as `run_db` does; nor when the database is not PostgreSQL,
uses a connection pool or a role (`OPTIONS`), or `CHAT_CLAIM_ON_LOOP` is off.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import weakref
from typing import Any

import psycopg
from asgiref.sync import AsyncToSync
from django.db import connections, router

from chatauth.caller import Workspace
from threads import services
from threads.chat.background import at_loop_end, start_task
from threads.chat.conf import chat_settings
from threads.chat.dbgate import hung_up
from threads.models import Thread

logger = logging.getLogger(__name__)


class Unavailable(enum.Enum):
    UNAVAILABLE = "unavailable"


UNAVAILABLE = Unavailable.UNAVAILABLE  # the claim was not made here: make it through `run_db`


class _LoopConnection:
    """The loop's connection: opened on first use, closed after `CHAT_DB_KEEP_SECONDS` idle or at the loop's end."""

    def __init__(self) -> None:
        self.connection: psycopg.AsyncConnection[Any] | None = None
        self.busy = False
        self.closer: asyncio.TimerHandle | None = None

    async def run(self, claim: services.ThreadClaim, alias: str) -> Thread | None:
        """The claim's statement on this connection (connecting first if needed); raises on a failure, after
        closing the connection."""
        try:
            if self.connection is not None and (self.connection.closed or hung_up(self.connection.fileno())):
                await self.close()
            if self.connection is None:
                self.connection = await _connect(alias)
            async with self.connection.cursor() as cursor:
                await cursor.execute(claim.sql, claim.params)
                row = await cursor.fetchone() if claim.returns_count else None
                rowcount = cursor.rowcount
        except BaseException:
            await self.close()
            raise
        finally:
            self.busy = False
            self._close_when_idle()
        return claim.result(row, rowcount, alias)

    def _close_when_idle(self) -> None:
        if self.closer is not None:
            self.closer.cancel()
        loop = asyncio.get_running_loop()
        keep = max(0.0, float(chat_settings.DB_KEEP_SECONDS))
        self.closer = loop.call_later(keep, lambda: self.busy or start_task(self.close()))

    async def close_for_good(self) -> None:
        """At the loop's end: no idle timer left behind, and the connection closed."""
        if self.closer is not None:
            self.closer.cancel()
        await self.close()

    async def close(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()


_per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopConnection] = weakref.WeakKeyDictionary()


async def _connect(alias: str) -> psycopg.AsyncConnection[Any]:
    """A connection with Django's own parameters for `alias` (its adapters, its client-side binding), in
    autocommit, as the chat database threads' connections are outside a transaction."""
    params = connections[alias].get_connection_params()
    params["cursor_factory"] = psycopg.AsyncClientCursor  # Django's `Cursor` is the sync ClientCursor
    return await psycopg.AsyncConnection.connect(**params, autocommit=True)


def _loop_connection() -> _LoopConnection:
    loop = asyncio.get_running_loop()
    state = _per_loop.get(loop)
    if state is None:
        state = _per_loop[loop] = _LoopConnection()
        at_loop_end(state.close_for_good)
    return state


def _retrieved(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()


def usable(alias: str) -> bool:
    """Whether claims for `alias` may be made on the loop (see the module docstring)."""
    if not chat_settings.CLAIM_ON_LOOP or getattr(AsyncToSync.executors, "current", None) is not None:
        return False
    settings_dict = connections.settings[alias]
    options = settings_dict.get("OPTIONS") or {}
    return settings_dict["ENGINE"] == "django.db.backends.postgresql" and not (
        options.get("pool") or options.get("assume_role")
    )


async def claim(*, workspace: Workspace, thread_id: str) -> Thread | Unavailable | None:
    """`services.thread_claim(..., durable_later=True)` made on the loop: the new thread, None when the id is taken,
    or `UNAVAILABLE` when it was not made here (not usable, the connection busy or failing)."""
    alias = router.db_for_write(Thread)
    if not usable(alias):
        return UNAVAILABLE
    state = _loop_connection()
    if state.busy:
        return UNAVAILABLE
    # Compiled for the loop thread's (never connected) wrapper of the alias: the same SQL and parameters.
    statement = services.thread_claim_statement(
        workspace=workspace, thread_id=thread_id, connection=connections[alias], durable_later=True
    )
    state.busy = True
    running = asyncio.get_running_loop().create_task(state.run(statement, alias))
    running.add_done_callback(_retrieved)  # a failure nobody awaits any more (a cancelled request) is not unhandled
    try:
        return await asyncio.shield(running)  # a cancelled request leaves the statement to finish
    except Exception as exc:  # not a cancellation (a BaseException): that goes on to the caller
        logger.warning("claim on the event loop failed (%s): falling back to a database thread", type(exc).__name__)
        return UNAVAILABLE
