"""What /v1 needs beyond `threads.services`: keyset pages, bulk message delete, moving threads on claim.

Workspace-first like the core services: every query starts from `for_workspace(ws)` or a thread that was
fetched through it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction

from chatauth.caller import Workspace
from chatauth.cloud.conf import cloud_settings
from config.errors import ApiError
from config.validation import storable_text
from threads import services
from threads.models import Attachment, Message, Thread


def threads_page(*, workspace: Workspace, archived: bool, limit: int, after: str | None) -> list[Thread]:
    """Newest activity first; `after` is the id of the previous page's last thread (unknown ids start over,
    as the client expects). The same keyset query as `/api/threads`."""
    anchor = None
    if after and storable_text(after):
        row = Thread.objects.for_workspace(workspace).filter(id=after).values_list("last_message_at", "id").first()
        anchor = tuple(row) if row is not None else None
    return services.thread_list(workspace=workspace, archived=archived, limit=limit, after=anchor)


def messages_page(*, thread: Thread, format: str | None, limit: int, after: str | None) -> list[Message]:
    """Newest first, the order the client reverses into a tree; an unknown `after` starts over (client contract)."""
    page = services.message_page(thread=thread, limit=limit, format=format, after=after, newest_first=True)
    if page is None:
        page = services.message_page(thread=thread, limit=limit, format=format, newest_first=True)
    return page or []


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
    # The identity's files move with it (attached or not), so the claimed threads' attachments stay readable.
    Attachment.objects.for_workspace(source).update(**changes)
    return moving.update(**changes)


def check_anonymous_quota(*, workspace: Workspace, threads: int = 0, messages: int = 0) -> None:
    """Refuse a write that would take an anonymous workspace past CLOUD_ANONYMOUS_MAX_THREADS / _MAX_MESSAGES."""
    checks = (
        ("threads", threads, Thread.objects.for_workspace(workspace), cloud_settings.ANONYMOUS_MAX_THREADS),
        ("messages", messages, Message.objects.for_workspace(workspace), cloud_settings.ANONYMOUS_MAX_MESSAGES),
    )
    for what, adding, stored, limit in checks:
        if adding and stored.count() + adding > int(limit):
            message = f"An anonymous identity may keep at most {limit} {what}: sign in to keep more."
            raise ApiError("quota_exceeded", message, 403)
