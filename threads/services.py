"""Every read by id and every write of chat data: small, atomic, workspace-first.

Views and streams call these with a `Workspace` they got from the verified principal; nothing here
accepts a bare thread id without one, so "missing" and "someone else's" are the same `NotFound`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from django.db import IntegrityError, connections, router, transaction
from django.db.models import F, Q, QuerySet
from django.db.models.constants import OnConflict
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan
from django.db.models.sql import InsertQuery
from django.utils import timezone

from chatauth.caller import Workspace
from config.validation import storable_text
from threads.models import Message, Thread
from threads.signals import message_resent


class NotFound(Exception):
    """The object does not exist in this workspace (whether or not it exists elsewhere)."""


class InvalidParent(ValueError):
    """A message's parent is not a message of the same thread, or would create a cycle."""


class ExternalIdTaken(ValueError):
    """The workspace already has a thread with this external id."""


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = _Unset()


def _scoped_threads(thread: Thread) -> QuerySet[Thread]:
    """This thread's row through its own workspace scope: writes never need the unscoped manager."""
    return Thread.objects.for_workspace(thread.workspace).filter(pk=thread.pk)


def _usable_key(value: Any, max_length: int) -> bool:
    """An id from a URL or a body that can be looked up at all (PostgreSQL refuses NUL in a query)."""
    return isinstance(value, str) and len(value) <= max_length and storable_text(value)


def thread_get(*, workspace: Workspace, thread_id: str, for_update: bool = False) -> Thread:
    if not _usable_key(thread_id, Thread._meta.get_field("id").max_length):
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


def _new_thread(workspace: Workspace, *, thread_id: str | None = None, **fields: Any) -> Thread:
    """An unsaved thread of the workspace; `fields`: title, metadata, external_id, last_message_at."""
    thread = Thread(
        workspace_key=workspace.key,
        org_id=workspace.org_id,
        user_id=workspace.user_id,
        title=fields.get("title"),
        metadata=fields.get("metadata") or {},
        external_id=fields.get("external_id"),
        last_message_at=fields.get("last_message_at") or timezone.now(),
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
    options = {"title": title, "metadata": metadata, "external_id": external_id, "last_message_at": last_message_at}
    thread = _new_thread(workspace, thread_id=thread_id, **options)
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


def thread_claim(*, workspace: Workspace, thread_id: str) -> Thread | None:
    """A new, empty thread under `thread_id`, or None when the id is taken (the caller looks it up in scope: another
    workspace's thread stays a 404). One `INSERT ... ON CONFLICT DO NOTHING` from Django's insert compiler: no
    exception, so no savepoint and, in autocommit, no BEGIN/COMMIT (one round trip on PostgreSQL, not three).
    No `save()` signals are sent (Thread has no receivers)."""
    thread = _new_thread(workspace, thread_id=thread_id)
    connection = connections[router.db_for_write(Thread)]
    query = InsertQuery(Thread, on_conflict=OnConflict.IGNORE)
    query.insert_values(Thread._meta.concrete_fields, [thread])
    with connection.cursor() as cursor:
        for sql, params in query.get_compiler(connection=connection).as_sql():
            cursor.execute(sql, params)
        inserted = cursor.rowcount == 1
    if not inserted:
        return None
    thread._state.adding = False  # as `save()` leaves it: a stored row
    thread._state.db = connection.alias
    return thread


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
    if not _usable_key(thread_id, Thread._meta.get_field("id").max_length):
        return False
    untitled = Thread.objects.for_workspace(workspace).filter(Q(title__isnull=True) | Q(title=""), id=thread_id)
    return untitled.update(title=title, updated_at=timezone.now()) > 0


def thread_discard_if_empty(*, workspace: Workspace, thread_id: str) -> None:
    """Delete the workspace's thread if it has no message (a first chat turn that was refused)."""
    Thread.objects.for_workspace(workspace).filter(id=thread_id, messages__isnull=True).delete()


def thread_delete(*, thread: Thread) -> None:
    """Deletes the thread and, by cascade, all its messages."""
    thread.delete()


def _role_of(content: Any) -> str:
    role = content.get("role") if isinstance(content, dict) else None
    return role if isinstance(role, str) else ""


def message_get(*, thread: Thread, message_id: str) -> Message:
    if not _usable_key(message_id, Message._meta.get_field("message_id").max_length):
        raise NotFound("message not found")
    try:
        return thread.messages.select_related("parent").get(message_id=message_id)
    except Message.DoesNotExist as exc:
        raise NotFound("message not found") from exc


def _parent_in_thread(thread: Thread, parent_id: str) -> Message:
    """The parent by client id, only among this thread's messages.

    A missing id and an id from another thread (or workspace) give the same error, so the
    answer never tells whether the id exists somewhere else.
    """
    usable = _usable_key(parent_id, Message._meta.get_field("message_id").max_length)
    parent = thread.messages.filter(message_id=parent_id).first() if usable else None
    if parent is None:
        raise InvalidParent(f"parent_id {parent_id!r} is not a message of this thread")
    return parent


def message_append(
    *,
    thread: Thread,
    format: str,
    content: Any,
    parent_id: str | None = None,
    message_id: str | None = None,
    status: str = "complete",
) -> tuple[Message, bool]:
    """Append one message under `parent_id`; `(message, created)`.

    Idempotent on `message_id`: sending the same id again returns the stored message unchanged.
    A user message moves the thread to the top of its workspace's list.
    """
    if message_id:
        existing = thread.messages.select_related("parent").filter(message_id=message_id).first()
        if existing is not None:
            message_resent.send(sender=Message, message=existing, content=content)
            return existing, False
    parent = _parent_in_thread(thread, parent_id) if parent_id is not None else None
    message = Message(
        thread=thread,
        message_id=message_id or Message.new_id(),
        parent=parent,
        height=parent.height + 1 if parent else 0,
        format=format,
        role=_role_of(content),
        content=content,
        status=status,
    )
    try:
        with transaction.atomic():
            message.save(force_insert=True)
            if message.role == "user":
                now = timezone.now()
                _scoped_threads(thread).update(last_message_at=now, updated_at=now)
                thread.last_message_at = now
                thread.updated_at = now
    except IntegrityError:
        # A concurrent request stored the same id first: idempotence says return that one.
        if message_id:
            existing = thread.messages.select_related("parent").filter(message_id=message_id).first()
            if existing is not None:
                return existing, False
        raise
    return message, True


def message_append_first_turn(
    *, thread: Thread, format: str, user_content: Any, user_message_id: str, assistant_message_id: str
) -> tuple[Message, Message]:
    """The user message and the in-progress reply of a thread created in the caller's transaction.

    Two INSERTs: a thread that has no message yet has no id to look up, no parent to find and no list position
    to move (`thread_create` set it). The caller's transaction holds both, or neither.
    """
    user = Message(
        thread=thread,
        message_id=user_message_id,
        height=0,
        format=format,
        role=_role_of(user_content),
        content=user_content,
        status="complete",
    )
    user.save(force_insert=True)
    assistant = Message(
        thread=thread,
        message_id=assistant_message_id,
        parent=user,
        height=1,
        format=format,
        role="assistant",
        content={"role": "assistant", "parts": []},
        status="in_progress",
    )
    assistant.save(force_insert=True)
    return user, assistant


def message_finish(*, thread: Thread, message_id: str, content: Any, status: str, only_in_progress: bool) -> bool:
    """Store how a reply of `thread` (fetched in the caller's workspace) ended, its content and status, in one
    UPDATE of that thread's rows; with `only_in_progress`, only if it is still in progress. False when nothing was
    stored (gone, or already ended)."""
    if not _usable_key(message_id, Message._meta.get_field("message_id").max_length):
        return False
    reply = thread.messages.filter(message_id=message_id)
    if only_in_progress:
        reply = reply.filter(status="in_progress")
    changes: dict[str, Any] = {"content": content, "status": status, "updated_at": timezone.now()}
    if _role_of(content):
        changes["role"] = _role_of(content)
    return reply.update(**changes) > 0


def _reparent(message: Message, parent_id: str | None) -> list[str]:
    """Move `message` (and its subtree) under `parent_id`; returns the fields changed on `message`."""
    thread = message.thread
    # Lock the thread row so two concurrent moves cannot each pass the cycle check and close a loop.
    _scoped_threads(thread).select_for_update().values_list("pk", flat=True).first()
    parent = _parent_in_thread(thread, parent_id) if parent_id is not None else None
    if parent is not None:
        ancestor: Message | None = parent
        while ancestor is not None:
            if ancestor.pk == message.pk:
                raise InvalidParent(
                    f"parent_id {parent_id!r} would make message {message.message_id!r} its own ancestor (a cycle)"
                )
            ancestor = thread.messages.filter(pk=ancestor.parent_id).first() if ancestor.parent_id else None
    new_height = parent.height + 1 if parent else 0
    delta = new_height - message.height
    if delta:
        frontier = [message.pk]
        while frontier:
            children = list(thread.messages.filter(parent_id__in=frontier).values_list("pk", flat=True))
            if children:
                thread.messages.filter(pk__in=children).update(height=F("height") + delta)
            frontier = children
    message.parent = parent
    message.height = new_height
    return ["parent", "height"]


def message_update(
    *,
    message: Message,
    content: Any = None,
    status: str | None = None,
    parent_id: str | _Unset | None = UNSET,
) -> Message:
    """Replace content and/or status; with `parent_id`, move the message (a cycle is `InvalidParent`)."""
    fields = ["updated_at"]
    with transaction.atomic():
        if not isinstance(parent_id, _Unset):
            fields += _reparent(message, parent_id)
        if content is not None:
            message.content = content
            message.role = _role_of(content) or message.role
            fields += ["content", "role"]
        if status is not None:
            message.status = status
            fields.append("status")
        message.save(update_fields=fields)
    return message


def messages_in_tree_order(*, thread: Thread, format: str | None = None) -> QuerySet[Message]:
    """Parents before children: height ascending is a topological order of the tree."""
    qs = thread.messages.select_related("parent").order_by("height", "created_at", "id")
    if format:
        qs = qs.filter(format=format)
    return qs


def message_head(*, thread: Thread) -> Message | None:
    """The thread's current head: its newest message (after an edit or a regeneration, the new branch's reply)."""
    return thread.messages.order_by("-created_at", "-id").first()


def first_user_message(*, thread: Thread) -> Message | None:
    """The thread's first user message (what titles are made from), without reading the rest."""
    return messages_in_tree_order(thread=thread).filter(role="user").first()


def message_page(
    *, thread: Thread, limit: int, format: str | None = None, after: str | None = None, newest_first: bool = False
) -> list[Message] | None:
    """One page of the thread's messages in tree order (or its reverse), after the message with client id `after`.

    Keyset on (height, created_at, id), the `message_tree_idx` order, so a page costs the same at any depth and
    a message appended meanwhile never shifts the pages that follow. None when `after` is not a message of this
    thread (each face decides what that means).
    """
    qs = messages_in_tree_order(thread=thread, format=format)
    if newest_first:
        qs = qs.reverse()
    if after is not None:
        if not _usable_key(after, Message._meta.get_field("message_id").max_length):
            return None
        anchor = thread.messages.filter(message_id=after).values_list("height", "created_at", "id").first()
        if anchor is None:
            return None
        key = Tuple(F("height"), F("created_at"), F("id"))
        qs = qs.filter(TupleLessThan(key, anchor) if newest_first else TupleGreaterThan(key, anchor))
    return list(qs[:limit])
