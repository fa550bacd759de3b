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

Every stored field is in it, timestamps included, so import restores the rows exactly (message
parents by their client-visible ids). Import is all-or-nothing: it validates the whole document first
and writes it in one transaction.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import IO, Any

from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

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


# --- import -----------------------------------------------------------------------------------------


class _Doc:
    """Typed reads from one object of the document, with errors that name the exact place."""

    def __init__(self, data: Any, where: str) -> None:
        if not isinstance(data, dict):
            raise PortabilityError(f"{where}: expected an object")
        self.data = data
        self.where = where

    def get(self, key: str, kind: type | tuple[type, ...], *, required: bool = True, nullable: bool = False) -> Any:
        if key not in self.data:
            if required:
                raise PortabilityError(f"{self.where}.{key}: missing")
            return None
        value = self.data[key]
        if value is None and nullable:
            return None
        if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _as_tuple(kind)):
            raise PortabilityError(f"{self.where}.{key}: expected {_kind_name(kind)}")
        return value

    def text(self, key: str, *, nullable: bool = False, max_length: int | None = None, required: bool = True) -> Any:
        value = self.get(key, str, nullable=nullable, required=required)
        if isinstance(value, str):
            if not nullable and not value and key in {"id", "user_id", "workspace_key", "format"}:
                raise PortabilityError(f"{self.where}.{key}: must not be empty")
            if max_length is not None and len(value) > max_length:
                raise PortabilityError(f"{self.where}.{key}: longer than {max_length} characters")
        return value

    def time(self, key: str) -> datetime:
        value = self.get(key, str)
        parsed = parse_datetime(value)
        if parsed is None:
            raise PortabilityError(f"{self.where}.{key}: not an ISO 8601 date-time")
        return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed, timezone.UTC)

    def count(self, key: str) -> int | None:
        value = self.get(key, int, required=False, nullable=True)
        if value is not None and value < 0:
            raise PortabilityError(f"{self.where}.{key}: must not be negative")
        return value


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", bool: "true or false", list: "a list", dict: "an object"}
    return " or ".join(names.get(k, k.__name__) for k in _as_tuple(kind))


def _max_length(model: type, name: str) -> int:
    return model._meta.get_field(name).max_length


@dataclass
class _PlannedThread:
    thread: Thread
    times: tuple[datetime, datetime]
    messages: list[tuple[Message, str | None, tuple[datetime, datetime]]] = field(default_factory=list)
    feedback: list[tuple[str, MessageFeedback, datetime]] = field(default_factory=list)
    reports: list[tuple[RunReport, datetime]] = field(default_factory=list)
    attachments: list[tuple[Attachment, bytes, datetime]] = field(default_factory=list)


def _plan_thread(raw: Any, where: str) -> _PlannedThread:
    doc = _Doc(raw, where)
    thread = Thread(
        id=doc.text("id", max_length=_max_length(Thread, "id")),
        workspace_key=doc.text("workspace_key", max_length=_max_length(Thread, "workspace_key")),
        user_id=doc.text("user_id", max_length=_max_length(Thread, "user_id")),
        org_id=doc.text("org_id", nullable=True, max_length=_max_length(Thread, "org_id")),
        title=doc.text("title", nullable=True, max_length=_max_length(Thread, "title")),
        is_archived=doc.get("is_archived", bool),
        metadata=doc.get("metadata", dict),
        external_id=doc.text("external_id", nullable=True, max_length=_max_length(Thread, "external_id")),
        last_message_at=doc.time("last_message_at"),
    )
    planned = _PlannedThread(thread, (doc.time("created_at"), doc.time("updated_at")))
    seen: dict[str, int] = {}
    messages = doc.get("messages", list)
    for i, raw_message in enumerate(messages):
        mdoc = _Doc(raw_message, f"{where}.messages[{i}]")
        message_id = mdoc.text("id", max_length=_max_length(Message, "message_id"))
        if message_id in seen:
            raise PortabilityError(f"{mdoc.where}.id: {message_id!r} appears twice in the thread")
        seen[message_id] = i
        message = Message(
            thread=thread,
            message_id=message_id,
            height=mdoc.count("height") or 0,
            format=mdoc.text("format", max_length=_max_length(Message, "format")),
            role=mdoc.text("role", max_length=_max_length(Message, "role")),
            content=mdoc.get("content", (dict, list, str, int, float, bool)),
            status=mdoc.text("status", max_length=_max_length(Message, "status")),
        )
        parent_id = mdoc.text("parent_id", nullable=True)
        planned.messages.append((message, parent_id, (mdoc.time("created_at"), mdoc.time("updated_at"))))
        for j, raw_feedback in enumerate(mdoc.get("feedback", list)):
            fdoc = _Doc(raw_feedback, f"{mdoc.where}.feedback[{j}]")
            item = MessageFeedback(
                user_id=fdoc.text("user_id", required=False, max_length=_max_length(MessageFeedback, "user_id"))
                or thread.user_id,
                type=fdoc.text("type", max_length=_max_length(MessageFeedback, "type")),
                comment=fdoc.text("comment", nullable=True),
            )
            planned.feedback.append((message_id, item, fdoc.time("created_at")))
    for message, parent_id, _ in planned.messages:
        if parent_id is not None and parent_id not in seen:
            raise PortabilityError(
                f"{where}: message {message.message_id!r} names a parent {parent_id!r} that is not in the thread"
            )
    for j, raw_report in enumerate(doc.get("run_reports", list, required=False) or []):
        rdoc = _Doc(raw_report, f"{where}.run_reports[{j}]")
        report = RunReport(
            id=rdoc.text("id", max_length=_max_length(RunReport, "id")),
            thread=thread,
            status=rdoc.text("status", max_length=_max_length(RunReport, "status")),
            model_id=rdoc.text(
                "model_id", nullable=True, required=False, max_length=_max_length(RunReport, "model_id")
            ),
            input_tokens=rdoc.count("input_tokens"),
            output_tokens=rdoc.count("output_tokens"),
            duration_ms=rdoc.count("duration_ms"),
            payload=rdoc.get("payload", dict, required=False) or {},
        )
        planned.reports.append((report, rdoc.time("created_at")))
    for j, raw_file in enumerate(doc.get("attachments", list, required=False) or []):
        adoc = _Doc(raw_file, f"{where}.attachments[{j}]")
        try:
            data = base64.b64decode(adoc.text("data_base64"), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise PortabilityError(f"{adoc.where}.data_base64: not base64") from exc
        item = Attachment(
            id=adoc.text("id", max_length=_max_length(Attachment, "id")),
            workspace_key=thread.workspace_key,
            org_id=thread.org_id,
            user_id=thread.user_id,
            thread=thread,
            filename=adoc.text("filename", max_length=_max_length(Attachment, "filename")),
            content_type=adoc.text("content_type", max_length=_max_length(Attachment, "content_type")),
            size=len(data),
            status="ready",
            uploaded_at=adoc.time("uploaded_at"),
        )
        planned.attachments.append((item, data, adoc.time("created_at")))
    return planned


def _generations(planned: _PlannedThread, where: str) -> list[list[tuple[Message, str | None]]]:
    """Messages grouped so every parent is in an earlier group than its children (refuses cycles)."""
    pending = [(m, parent) for m, parent, _ in planned.messages]
    placed: set[str] = set()
    groups: list[list[tuple[Message, str | None]]] = []
    while pending:
        ready = [(m, p) for m, p in pending if p is None or p in placed]
        if not ready:
            raise PortabilityError(f"{where}: the message parents form a cycle")
        groups.append(ready)
        placed.update(m.message_id for m, _ in ready)
        pending = [(m, p) for m, p in pending if m.message_id not in placed]
    return groups


def read_export(raw: str | bytes) -> dict[str, Any]:
    """Parse an export document and check its format marker."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PortabilityError(f"not a JSON document: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT:
        raise PortabilityError(f'not a thread export: the document has no "format": "{EXPORT_FORMAT}"')
    if data.get("version") != EXPORT_VERSION:
        raise PortabilityError(
            f"unsupported export version {data.get('version')!r} (this service reads {EXPORT_VERSION})"
        )
    if not isinstance(data.get("threads"), list):
        raise PortabilityError("threads: expected a list")
    return data


def import_threads(
    document: dict[str, Any],
    *,
    replace: bool = False,
    progress: Progress | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> Counts:
    """Restore an export. Existing thread ids are an error unless `replace` (then they are overwritten)."""
    planned = [_plan_thread(raw, f"threads[{i}]") for i, raw in enumerate(document["threads"])]
    ids = [p.thread.id for p in planned]
    if len(set(ids)) != len(ids):
        duplicate = next(i for i in ids if ids.count(i) > 1)
        raise PortabilityError(f"thread {duplicate!r} appears twice in the export")
    generations = [_generations(p, f"threads[{i}]") for i, p in enumerate(planned)]
    counts = Counts()
    try:
        with transaction.atomic():
            existing = list(Thread.unscoped_for_operators.filter(id__in=ids).values_list("id", flat=True))
            if existing and not replace:
                shown = ", ".join(sorted(existing)[:5]) + (" ..." if len(existing) > 5 else "")
                raise PortabilityError(
                    f"{len(existing)} of these threads already exist ({shown}); nothing was imported. "
                    "Delete them first or import with --replace."
                )
            for batch in _batches(existing, batch_size):
                Thread.unscoped_for_operators.filter(id__in=batch).delete()
            for done, (plan, groups) in enumerate(zip(planned, generations, strict=True), start=1):
                _write_thread(plan, groups, counts)
                if progress and (done % batch_size == 0 or done == len(planned)):
                    progress(done, len(planned))
    except IntegrityError as exc:
        raise PortabilityError(f"the export conflicts with stored data, nothing was imported: {exc}") from exc
    return counts


def _write_thread(plan: _PlannedThread, groups: list[list[tuple[Message, str | None]]], counts: Counts) -> None:
    thread = plan.thread
    thread.save(force_insert=True)
    # auto_now/auto_now_add overwrite timestamps on insert; put the exported ones back.
    thread.created_at, thread.updated_at = plan.times
    Thread.unscoped_for_operators.filter(pk=thread.pk).update(
        created_at=thread.created_at, updated_at=thread.updated_at
    )

    pk_by_message_id: dict[str, int] = {}
    times = {m.message_id: t for m, _, t in plan.messages}
    created: list[Message] = []
    for group in groups:
        for message, parent_id in group:
            message.parent_id = pk_by_message_id[parent_id] if parent_id is not None else None
        objs = [m for m, _ in group]
        if connection.features.can_return_rows_from_bulk_insert:
            Message.unscoped_for_operators.bulk_create(objs)
        else:  # pragma: no cover - every supported backend returns ids
            for obj in objs:
                obj.save(force_insert=True)
        pk_by_message_id.update((m.message_id, m.pk) for m in objs)
        created += objs
    for message in created:
        message.created_at, message.updated_at = times[message.message_id]
    if created:
        Message.unscoped_for_operators.bulk_update(created, ["created_at", "updated_at"], batch_size=500)

    feedback = []
    for message_id, item, _ in plan.feedback:
        item.message_id = pk_by_message_id[message_id]
        feedback.append(item)
    MessageFeedback.unscoped_for_operators.bulk_create(feedback)
    for item, (_, _, created_at) in zip(feedback, plan.feedback, strict=True):
        item.created_at = created_at
    if feedback:
        MessageFeedback.unscoped_for_operators.bulk_update(feedback, ["created_at"], batch_size=500)

    reports = [r for r, _ in plan.reports]
    RunReport.unscoped_for_operators.bulk_create(reports)
    for report, (_, created_at) in zip(reports, plan.reports, strict=True):
        report.created_at = created_at
    if reports:
        RunReport.unscoped_for_operators.bulk_update(reports, ["created_at"], batch_size=500)

    from django.core.files.base import ContentFile

    from threads.files import storage

    for item, data, created_at in plan.attachments:
        # Bytes are written before the transaction commits; a failed import can leave unreferenced bytes behind.
        item.storage_key = storage().save(f"{item.id}/{item.filename[-100:]}", ContentFile(data))
        item.save(force_insert=True)
        Attachment.unscoped_for_operators.filter(pk=item.pk).update(created_at=created_at)
        counts.files += 1

    counts.threads += 1
    counts.messages += len(created)
    counts.feedback += len(feedback)
    counts.run_reports += len(reports)


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
