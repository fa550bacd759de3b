"""What /v1 needs beyond `threads.services`: keyset pages, bulk message delete, moving threads on claim.

Workspace-first like the core services: every query starts from `for_workspace(ws)` or a thread that was
fetched through it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet

from chatauth.caller import Workspace
from threads.models import Message, Thread


def threads_page(*, workspace: Workspace, archived: bool, limit: int, after: str | None) -> list[Thread]:
    """Newest activity first; `after` is the id of the previous page's last thread (unknown ids start over)."""
    base = Thread.objects.for_workspace(workspace)
    qs = base.filter(is_archived=archived).newest_activity_first()
    if after:
        anchor = base.filter(id=after).values("last_message_at", "id").first()
        if anchor is not None:
            at = anchor["last_message_at"]
            qs = qs.filter(Q(last_message_at__lt=at) | Q(last_message_at=at, id__lt=anchor["id"]))
    return list(qs[:limit])


def messages_page(*, thread: Thread, format: str | None, limit: int, after: str | None) -> list[Message]:
    """Newest first (height, created_at, id descending), the order the client reverses into a tree."""
    qs: QuerySet[Message] = thread.messages.select_related("parent")
    if format:
        qs = qs.filter(format=format)
    qs = qs.order_by("-height", "-created_at", "-id")
    if after:
        anchor = thread.messages.filter(message_id=after).values("height", "created_at", "id").first()
        if anchor is not None:
            h, c, i = anchor["height"], anchor["created_at"], anchor["id"]
            qs = qs.filter(Q(height__lt=h) | Q(height=h, created_at__lt=c) | Q(height=h, created_at=c, id__lt=i))
    return list(qs[:limit])


def messages_delete(*, thread: Thread, message_ids: Iterable[str]) -> int:
    """Delete these messages of the thread (their replies go with them); unknown ids are ignored."""
    deleted, _ = thread.messages.filter(message_id__in=list(message_ids)).delete()
    return deleted


def thread_by_external_id(*, workspace: Workspace, external_id: str) -> Thread | None:
    return Thread.objects.for_workspace(workspace).filter(external_id=external_id).first()


def threads_move(*, source: Workspace, target: Workspace) -> int:
    """Move every thread of `source` into `target` (a claim). Must run inside the claim's transaction.

    An external id the target already uses is dropped from the moved thread, so the per-workspace
    uniqueness of external ids holds and nothing is lost.
    """
    assert transaction.get_connection().in_atomic_block, "threads_move must run in a transaction"
    moving = Thread.objects.for_workspace(source)
    taken = Thread.objects.for_workspace(target).filter(external_id__isnull=False).values("external_id")
    moving.filter(external_id__in=taken).update(external_id=None)
    changes: dict[str, Any] = {"workspace_key": target.key, "org_id": target.org_id, "user_id": target.user_id}
    return moving.update(**changes)
