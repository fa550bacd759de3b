"""Every read by id and every write of chat data: small, atomic, workspace-first.

Views and streams call these with a `Workspace` they got from the verified principal; nothing here
accepts a bare thread id without one, so "missing" and "someone else's" are the same `NotFound`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from chatauth.principal import Workspace
from threads.models import Message, Thread


class NotFound(Exception):
    """The object does not exist in this workspace (whether or not it exists elsewhere)."""


class InvalidParent(ValueError):
    """A message's parent is not a message of the same thread, or would create a cycle."""


def thread_get(*, workspace: Workspace, thread_id: str, for_update: bool = False) -> Thread:
    qs = Thread.objects.for_workspace(workspace)
    if for_update:
        qs = qs.select_for_update()
    try:
        return qs.get(id=thread_id)
    except (Thread.DoesNotExist, ValueError, TypeError) as exc:
        raise NotFound("thread not found") from exc


def thread_create(
    *,
    workspace: Workspace,
    title: str | None = None,
    metadata: dict[str, Any] | None = None,
    external_id: str | None = None,
    thread_id: str | None = None,
    last_message_at: datetime | None = None,
) -> Thread:
    thread = Thread(
        workspace_key=workspace.key,
        org_id=workspace.org_id,
        user_id=workspace.user_id,
        title=title,
        metadata=metadata or {},
        external_id=external_id,
    )
    if thread_id:
        thread.id = thread_id
    if last_message_at is not None:
        thread.last_message_at = last_message_at
    with transaction.atomic():
        thread.save(force_insert=True)
    thread.refresh_from_db(fields=["last_message_at"])
    return thread


_UPDATABLE_THREAD_FIELDS = frozenset({"title", "is_archived", "metadata", "last_message_at"})


def thread_update(*, thread: Thread, **changes: Any) -> Thread:
    unknown = set(changes) - _UPDATABLE_THREAD_FIELDS
    if unknown:
        raise TypeError(f"cannot update {sorted(unknown)}")
    for name, value in changes.items():
        setattr(thread, name, value)
    thread.save(update_fields=[*changes, "updated_at"])
    return thread


def thread_delete(*, thread: Thread) -> None:
    """Deletes the thread and, by cascade, all its messages."""
    thread.delete()


def _role_of(content: Any) -> str:
    role = content.get("role") if isinstance(content, dict) else None
    return role if isinstance(role, str) else ""


def message_get(*, thread: Thread, message_id: str) -> Message:
    try:
        return thread.messages.select_related("parent").get(message_id=message_id)
    except Message.DoesNotExist as exc:
        raise NotFound("message not found") from exc


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
            return existing, False
    parent = None
    if parent_id is not None:
        parent = thread.messages.filter(message_id=parent_id).first()
        if parent is None:
            raise InvalidParent(f"parent_id {parent_id!r} is not a message of this thread")
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
                Thread.all_workspaces.filter(pk=thread.pk).update(last_message_at=now, updated_at=now)
                thread.last_message_at = now
    except IntegrityError:
        # A concurrent request stored the same id first: idempotence says return that one.
        if message_id:
            existing = thread.messages.select_related("parent").filter(message_id=message_id).first()
            if existing is not None:
                return existing, False
        raise
    return message, True


def message_update(*, message: Message, content: Any = None, status: str | None = None) -> Message:
    fields = ["updated_at"]
    if content is not None:
        message.content = content
        message.role = _role_of(content) or message.role
        fields += ["content", "role"]
    if status is not None:
        message.status = status
        fields.append("status")
    message.save(update_fields=fields)
    return message


def messages_in_tree_order(*, thread: Thread, format: str | None = None) -> Iterable[Message]:
    """Parents before children: height ascending is a topological order of the tree."""
    qs = thread.messages.select_related("parent").order_by("height", "created_at", "id")
    if format:
        qs = qs.filter(format=format)
    return qs
