"""Threads: lookup, listing, creation (and a new chat's one-statement claim), updates, deletion, in one workspace."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, connections, router, transaction
from django.db.models import F, Q
from django.db.models.constants import OnConflict
from django.db.models.fields.tuple_lookups import Tuple, TupleLessThan
from django.db.models.sql import InsertQuery
from django.utils import timezone

from chatauth.caller import Workspace
from threads.models import Thread
from threads.services.common import ExternalIdTaken, NotFound, usable_key


def thread_get(*, workspace: Workspace, thread_id: str, for_update: bool = False) -> Thread:
    if not usable_key(thread_id, Thread._meta.get_field("id").max_length):
        raise NotFound("thread not found")
    qs = Thread.objects.for_workspace(workspace)
    if for_update:
        qs = qs.select_for_update()
    try:
        return qs.get(id=thread_id)
    except (Thread.DoesNotExist, ValueError, TypeError) as exc:
        raise NotFound("thread not found") from exc


def thread_list(
    *,
    workspace: Workspace,
    archived: bool | None = False,
    limit: int = 20,
    after: tuple[datetime, str] | None = None,
) -> list[Thread]:
    """One page of the workspace's threads, newest activity first.

    Keyset pagination: `after` is the (last_message_at, id) of the previous page's last row. The
    row-value comparison matches the (workspace_key, is_archived, last_message_at DESC, id DESC)
    index, so any page is an index range scan whatever the table size, and rows inserted meanwhile
    never shift the pages that follow.
    """
    qs = Thread.objects.for_workspace(workspace)
    if archived is not None:
        qs = qs.filter(is_archived=archived)
    if after is not None:
        qs = qs.filter(TupleLessThan(Tuple(F("last_message_at"), F("id")), after))
    return list(qs.newest_activity_first()[:limit])


def _new_thread(
    workspace: Workspace,
    *,
    thread_id: str | None = None,
    title: str | None = None,
    metadata: dict[str, Any] | None = None,
    external_id: str | None = None,
    last_message_at: datetime | None = None,
) -> Thread:
    """An unsaved thread of the workspace, at the top of its list unless `last_message_at` says otherwise."""
    thread = Thread(
        workspace_key=workspace.key,
        org_id=workspace.org_id,
        user_id=workspace.user_id,
        title=title,
        metadata=metadata or {},
        external_id=external_id,
        last_message_at=last_message_at or timezone.now(),
    )
    if thread_id:
        thread.id = thread_id
    return thread


def thread_create(
    *,
    workspace: Workspace,
    title: str | None = None,
    metadata: dict[str, Any] | None = None,
    external_id: str | None = None,
    thread_id: str | None = None,
    last_message_at: datetime | None = None,
) -> Thread:
    """A new thread at the top of the workspace's list; `ExternalIdTaken` if `external_id` is in use there."""
    thread = _new_thread(
        workspace,
        thread_id=thread_id,
        title=title,
        metadata=metadata,
        external_id=external_id,
        last_message_at=last_message_at,
    )
    try:
        with transaction.atomic():
            thread.save(force_insert=True)
    except IntegrityError as exc:
        if external_id is not None and (
            Thread.objects.for_workspace(workspace).filter(external_id=external_id).exists()
        ):
            raise ExternalIdTaken(f"external_id {external_id!r} is already used by a thread") from exc
        raise
    return thread


# The claim's INSERT, and in the same statement (so in the same implicit transaction) `SET LOCAL synchronous_commit`.
_UNFLUSHED_CLAIM_PREFIX = "WITH claimed AS ("
_UNFLUSHED_CLAIM_SUFFIX = " RETURNING 1) SELECT count(*), set_config('synchronous_commit', 'off', true) FROM claimed"


@dataclass(frozen=True)
class ThreadClaim:
    """A new chat's claim of its id as one statement, for whichever connection runs it (a chat database thread's,
    or the event loop's: `threads.chat.loopclaim`). `returns_count`: the statement answers one row holding the
    number of rows inserted (the unflushed form); otherwise the cursor's rowcount says."""

    thread: Thread
    sql: str
    params: tuple[Any, ...]
    returns_count: bool

    def result(self, row: Any, rowcount: int, alias: str) -> Thread | None:
        """The claimed thread, as `save()` leaves one (a stored row), or None when the id was taken; from what the
        statement answered: its row (`returns_count`) or its rowcount."""
        inserted = (row is not None and row[0] == 1) if self.returns_count else rowcount == 1
        if not inserted:
            return None
        self.thread._state.adding = False
        self.thread._state.db = alias
        return self.thread


def thread_claim_statement(
    *, workspace: Workspace, thread_id: str, connection: Any, durable_later: bool = False
) -> ThreadClaim:
    """The statement `thread_claim` runs (compiled by Django's insert compiler for `connection`, sent nowhere).

    `durable_later`: the caller commits a write of its own before it tells anyone about this thread (a chat turn
    stores its user message before its reply is acknowledged). On PostgreSQL in autocommit, the claim's commit then
    does not wait for its WAL to reach the disk (`synchronous_commit` off for that statement's transaction only):
    the caller's later synchronous commit flushes the WAL up to its own record, the claim's included, and a crash
    before that loses a thread nobody was told of. It saves the claim's flush, 0.3-0.4 ms in front of the model.
    """
    thread = _new_thread(workspace, thread_id=thread_id)
    query = InsertQuery(Thread, on_conflict=OnConflict.IGNORE)
    query.insert_values(Thread._meta.concrete_fields, [thread])
    ((sql, params),) = query.get_compiler(connection=connection).as_sql()
    if durable_later and connection.vendor == "postgresql" and not connection.in_atomic_block:
        return ThreadClaim(thread, f"{_UNFLUSHED_CLAIM_PREFIX}{sql}{_UNFLUSHED_CLAIM_SUFFIX}", tuple(params), True)
    return ThreadClaim(thread, sql, tuple(params), False)


def thread_claim(*, workspace: Workspace, thread_id: str, durable_later: bool = False) -> Thread | None:
    """A new, empty thread under `thread_id`, or None when the id is taken (the caller looks it up in scope: another
    workspace's thread stays a 404). One `INSERT ... ON CONFLICT DO NOTHING` from Django's insert compiler: no
    exception, so no savepoint and, in autocommit, no BEGIN/COMMIT (one round trip on PostgreSQL, not three).
    No `save()` signals are sent (Thread has no receivers). `durable_later`: see `thread_claim_statement`.
    """
    connection = connections[router.db_for_write(Thread)]
    claim = thread_claim_statement(
        workspace=workspace, thread_id=thread_id, connection=connection, durable_later=durable_later
    )
    with connection.cursor() as cursor:
        cursor.execute(claim.sql, claim.params)
        row = cursor.fetchone() if claim.returns_count else None
        return claim.result(row, cursor.rowcount, connection.alias)


_UPDATABLE_THREAD_FIELDS = frozenset({"title", "is_archived", "metadata", "last_message_at"})


def thread_update(*, thread: Thread, **changes: Any) -> Thread:
    """Rename, archive/unarchive, replace metadata (None clears it), move `last_message_at`."""
    unknown = set(changes) - _UPDATABLE_THREAD_FIELDS
    if unknown:
        raise TypeError(f"cannot update {sorted(unknown)}")
    if "metadata" in changes and changes["metadata"] is None:
        changes["metadata"] = {}
    for name, value in changes.items():
        setattr(thread, name, value)
    thread.save(update_fields=[*changes, "updated_at"])
    return thread


def thread_title_if_untitled(*, workspace: Workspace, thread_id: str, title: str) -> bool:
    """Give the workspace's thread `title` unless it has one (a user may have named it meanwhile): one UPDATE."""
    if not usable_key(thread_id, Thread._meta.get_field("id").max_length):
        return False
    untitled = Thread.objects.for_workspace(workspace).filter(Q(title__isnull=True) | Q(title=""), id=thread_id)
    return untitled.update(title=title, updated_at=timezone.now()) > 0


def thread_discard_if_empty(*, workspace: Workspace, thread_id: str) -> None:
    """Delete the workspace's thread if it has no message (a first chat turn that was refused)."""
    Thread.objects.for_workspace(workspace).filter(id=thread_id, messages__isnull=True).delete()


def thread_delete(*, thread: Thread) -> None:
    """Deletes the thread and, by cascade, all its messages."""
    thread.delete()
