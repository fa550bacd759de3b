"""Import of an `export_threads` document, all or nothing (the export and deletion are in `threads.portability`).

Operator code, like the export: it writes through the unscoped managers. The whole document is validated
first and written in one transaction; existing ids are an error unless `replace`.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from threads.models import Attachment, Message, MessageFeedback, RunReport, Thread
from threads.portability import (
    DEFAULT_BATCH_SIZE,
    EXPORT_FORMAT,
    EXPORT_VERSION,
    Counts,
    PortabilityError,
    Progress,
    _batches,
)

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


