"""Export, import and delete one user's or one organization's chat data, for operators.

This is operator code (management commands, Clerk webhooks), so it reads through
`Thread.unscoped_for_operators`: the selection is by the `user_id` / `org_id` columns, across workspaces.

The export is one JSON document, written thread by thread so memory stays flat:

    {"format": "chat-threads-export", "version": 1, "exported_at": ..., "selection": {...},
     "threads": [{...thread fields..., "messages": [{..., "parent_id", "feedback": [...]}], "run_reports": [...],
                  "attachments": [{id, filename, content_type, size, created_at, uploaded_at, data_base64}]}]}

Attachments: a thread carries its attached, uploaded files (metadata and bytes, base64); files never named by a
message (not attached to a thread) and pending or rejected uploads are not exported, but `delete_threads`
deletes them too (by the same user/org selection). Scores and run leases are not exported.

Every stored field is in it, timestamps included, so import (`threads.restore`) restores the rows exactly (message
parents by their client-visible ids). Import is all-or-nothing: it validates the whole document first
and writes it in one transaction.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO, Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from threads.models import Attachment, Message, MessageFeedback, RunReport, Thread

EXPORT_FORMAT = "chat-threads-export"
EXPORT_VERSION = 1
DEFAULT_BATCH_SIZE = 200

Progress = Callable[[int, int], None]
"""Called with (threads done, threads in total) after each batch."""


class PortabilityError(ValueError):
    """A selection, export document or import that cannot be used; the message says what is wrong."""


@dataclass(frozen=True)
class Selection:
    """Whose data: a user (personal and every organization), an organization, or one member of one."""

    user_id: str | None = None
    org_id: str | None = None

    def __post_init__(self) -> None:
        for name in ("user_id", "org_id"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise PortabilityError(f"{name} must be a non-empty string")
        if self.user_id is None and self.org_id is None:
            raise PortabilityError("select a user, an organization, or both")

    def threads(self) -> QuerySet[Thread]:
        qs = Thread.unscoped_for_operators.all()
        if self.user_id is not None:
            qs = qs.filter(user_id=self.user_id)
        if self.org_id is not None:
            qs = qs.filter(org_id=self.org_id)
        return qs

    def describe(self) -> str:
        if self.user_id and self.org_id:
            return f"user {self.user_id} in organization {self.org_id}"
        return f"user {self.user_id}" if self.user_id else f"organization {self.org_id}"

    def as_dict(self) -> dict[str, str | None]:
        return {"user_id": self.user_id, "org_id": self.org_id}


@dataclass
class Counts:
    threads: int = 0
    messages: int = 0
    feedback: int = 0
    run_reports: int = 0
    files: int = 0

    def add_deleted(self, per_model: dict[str, int]) -> None:
        self.threads += per_model.get(Thread._meta.label, 0)
        self.messages += per_model.get(Message._meta.label, 0)
        self.feedback += per_model.get(MessageFeedback._meta.label, 0)
        self.run_reports += per_model.get(RunReport._meta.label, 0)
        self.files += per_model.get(Attachment._meta.label, 0)

    def __str__(self) -> str:
        return (
            f"{self.threads} threads, {self.messages} messages, "
            f"{self.feedback} feedback entries, {self.run_reports} run reports"
            + (f", {self.files} files" if self.files else "")
        )


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _batches(ids: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


# --- export -----------------------------------------------------------------------------------------


def _thread_documents(thread_ids: list[str]) -> Iterator[dict[str, Any]]:
    """Full documents for a batch of threads: four queries, whatever the batch size."""
    threads = Thread.unscoped_for_operators.filter(id__in=thread_ids).order_by("created_at", "id")
    messages: dict[str, list[Message]] = {}
    for message in Message.unscoped_for_operators.filter(thread_id__in=thread_ids).order_by(
        "height", "created_at", "id"
    ):
        messages.setdefault(message.thread_id, []).append(message)
    feedback: dict[int, list[MessageFeedback]] = {}
    for item in MessageFeedback.unscoped_for_operators.filter(message__thread_id__in=thread_ids).order_by(
        "created_at", "id"
    ):
        feedback.setdefault(item.message_id, []).append(item)
    reports: dict[str, list[RunReport]] = {}
    for report in RunReport.unscoped_for_operators.filter(thread_id__in=thread_ids).order_by("created_at", "id"):
        reports.setdefault(report.thread_id, []).append(report)

    attachments: dict[str, list[Attachment]] = {}
    for item in Attachment.unscoped_for_operators.filter(thread_id__in=thread_ids, status="ready").order_by(
        "created_at", "id"
    ):
        attachments.setdefault(item.thread_id, []).append(item)

    for thread in threads:
        thread_messages = messages.get(thread.id, [])
        ids_by_pk = {m.pk: m.message_id for m in thread_messages}
        yield {
            "id": thread.id,
            "workspace_key": thread.workspace_key,
            "user_id": thread.user_id,
            "org_id": thread.org_id,
            "title": thread.title,
            "is_archived": thread.is_archived,
            "metadata": thread.metadata,
            "external_id": thread.external_id,
            "created_at": _time(thread.created_at),
            "updated_at": _time(thread.updated_at),
            "last_message_at": _time(thread.last_message_at),
            "messages": [
                {
                    "id": m.message_id,
                    "parent_id": ids_by_pk.get(m.parent_id) if m.parent_id else None,
                    "height": m.height,
                    "format": m.format,
                    "role": m.role,
                    "content": m.content,
                    "status": m.status,
                    "created_at": _time(m.created_at),
                    "updated_at": _time(m.updated_at),
                    "feedback": [
                        {"type": f.type, "comment": f.comment, "user_id": f.user_id, "created_at": _time(f.created_at)}
                        for f in feedback.get(m.pk, [])
                    ],
                }
                for m in thread_messages
            ],
            "run_reports": [
                {
                    "id": r.id,
                    "status": r.status,
                    "model_id": r.model_id,
                    "input_tokens": r.input_tokens,
                    "output_tokens": r.output_tokens,
                    "duration_ms": r.duration_ms,
                    "payload": r.payload,
                    "created_at": _time(r.created_at),
                }
                for r in reports.get(thread.id, [])
            ],
            "attachments": [_attachment_document(a) for a in attachments.get(thread.id, [])],
        }


def _attachment_document(item: Attachment) -> dict[str, Any]:
    from threads.files import storage

    with storage().open(item.storage_key, "rb") as handle:
        data = handle.read()
    return {
        "id": item.id,
        "filename": item.filename,
        "content_type": item.content_type,
        "size": len(data),
        "created_at": _time(item.created_at),
        "uploaded_at": _time(item.uploaded_at),
        "data_base64": base64.b64encode(data).decode("ascii"),
    }


def export_threads(
    selection: Selection,
    out: IO[str],
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
) -> Counts:
    """Write the selection's export document to `out`; returns what it contained."""
    thread_ids = list(selection.threads().order_by("created_at", "id").values_list("id", flat=True))
    counts = Counts()
    header = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "exported_at": timezone.now().isoformat(),
        "selection": selection.as_dict(),
    }
    out.write(json.dumps(header, ensure_ascii=False)[:-1] + ', "threads": [')
    first = True
    for batch in _batches(thread_ids, batch_size):
        for document in _thread_documents(batch):
            out.write(("\n" if first else ",\n") + json.dumps(document, ensure_ascii=False))
            first = False
            counts.threads += 1
            counts.messages += len(document["messages"])
            counts.feedback += sum(len(m["feedback"]) for m in document["messages"])
            counts.run_reports += len(document["run_reports"])
            counts.files += len(document["attachments"])
        if progress:
            progress(counts.threads, len(thread_ids))
    out.write("\n]}\n")
    return counts


# --- delete -----------------------------------------------------------------------------------------


def delete_queryset(
    threads: QuerySet[Thread], *, batch_size: int = DEFAULT_BATCH_SIZE, progress: Progress | None = None
) -> Counts:
    """Delete these threads with everything hanging off them, one short transaction per batch.

    Batches keep locks short on a live database; a run that stops halfway can simply be repeated.
    """
    ids = list(threads.values_list("id", flat=True))
    counts = Counts()
    done = 0
    for batch in _batches(ids, batch_size):
        with transaction.atomic():
            _, per_model = Thread.unscoped_for_operators.filter(id__in=batch).delete()
        counts.add_deleted(per_model)
        done += len(batch)
        if progress:
            progress(done, len(ids))
    return counts


def delete_threads(
    selection: Selection, *, batch_size: int = DEFAULT_BATCH_SIZE, progress: Progress | None = None
) -> Counts:
    """The selection's threads (their attached files go with them), then its files attached to no thread.
    A file row's bytes are deleted from the store when its deletion commits (`threads.files`)."""
    counts = delete_queryset(selection.threads(), batch_size=batch_size, progress=progress)
    loose = Attachment.unscoped_for_operators.filter(thread__isnull=True)
    if selection.user_id is not None:
        loose = loose.filter(user_id=selection.user_id)
    if selection.org_id is not None:
        loose = loose.filter(org_id=selection.org_id)
    with transaction.atomic():
        _, per_model = loose.delete()
    counts.files += per_model.get(Attachment._meta.label, 0)
    return counts


def count_selection(threads: QuerySet[Thread]) -> Counts:
    """What deleting these threads would remove, without removing it."""
    return Counts(
        threads=threads.count(),
        messages=Message.unscoped_for_operators.filter(thread__in=threads).count(),
        feedback=MessageFeedback.unscoped_for_operators.filter(message__thread__in=threads).count(),
        run_reports=RunReport.unscoped_for_operators.filter(thread__in=threads).count(),
        files=Attachment.unscoped_for_operators.filter(thread__in=threads).count(),
    )


def prunable_threads(older_than: timedelta, *, archived_only: bool) -> QuerySet[Thread]:
    """Threads untouched (no edit, no message) for longer than `older_than`."""
    cutoff = timezone.now() - older_than
    qs = Thread.unscoped_for_operators.filter(updated_at__lt=cutoff, last_message_at__lt=cutoff)
    return qs.filter(is_archived=True) if archived_only else qs
