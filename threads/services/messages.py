"""Messages of one thread (fetched in the caller's workspace): reads, appends, the reply's end, edits and moves."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan
from django.utils import timezone

from threads.models import Message, Thread
from threads.services.common import UNSET, InvalidParent, NotFound, Unset, scoped_threads, usable_key
from threads.signals import message_resent


def _role_of(content: Any) -> str:
    role = content.get("role") if isinstance(content, dict) else None
    return role if isinstance(role, str) else ""


def message_get(*, thread: Thread, message_id: str) -> Message:
    if not usable_key(message_id, Message._meta.get_field("message_id").max_length):
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
    usable = usable_key(parent_id, Message._meta.get_field("message_id").max_length)
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
                scoped_threads(thread).update(last_message_at=now, updated_at=now)
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
    if not usable_key(message_id, Message._meta.get_field("message_id").max_length):
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
    scoped_threads(thread).select_for_update().values_list("pk", flat=True).first()
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
    parent_id: str | Unset | None = UNSET,
) -> Message:
    """Replace content and/or status; with `parent_id`, move the message (a cycle is `InvalidParent`)."""
    fields = ["updated_at"]
    with transaction.atomic():
        if not isinstance(parent_id, Unset):
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
        if not usable_key(after, Message._meta.get_field("message_id").max_length):
            return None
        anchor = thread.messages.filter(message_id=after).values_list("height", "created_at", "id").first()
        if anchor is None:
            return None
        key = Tuple(F("height"), F("created_at"), F("id"))
        qs = qs.filter(TupleLessThan(key, anchor) if newest_first else TupleGreaterThan(key, anchor))
    return list(qs[:limit])
