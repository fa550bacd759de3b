"""Read-only Django admin for chat data: operators browse every workspace, so this is the one place
(with management commands) that uses the unscoped `unscoped_for_operators` managers.

The site is `config.admin.StaffOnlyAdminSite`: Django staff accounts only, never Clerk-linked users.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from django.contrib import admin
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from threads.models import Message, MessageFeedback, RunReport, Thread

MAX_TREE_MESSAGES = 2000
CONTENT_PREVIEW_CHARS = 2000
RAW_JSON_CHARS = 20000
INDENT_EM = 1.5


class ReadOnlyAdmin(admin.ModelAdmin):
    """Chat data is written by the API only: the admin views it (and superusers may delete it)."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        # Operators see every workspace; the models' default managers refuse unscoped queries.
        return self.model.unscoped_for_operators.all()

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # Every field read-only: no form field is built, so no relation is queried through a scoped manager.
        return [*super().get_readonly_fields(request, obj), *(f.name for f in self.model._meta.fields)]


def _clip(text: str, limit: int = CONTENT_PREVIEW_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + f"… ({len(text) - limit} more characters)"


def _json(value: Any, limit: int = CONTENT_PREVIEW_CHARS) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True)
    except (TypeError, ValueError):
        text = repr(value)
    return _clip(text, limit)


def message_parts(content: Any) -> list[Any]:
    """The parts of a stored message, whatever its format: `ai-sdk/v6` UI messages keep them in `parts`,
    assistant-ui's `aui/v0` in `content` (a list, or a plain string)."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, dict):
        return [] if content is None else [content]
    raw = content.get("parts")
    if raw is None:
        raw = content.get("content")
    if isinstance(raw, str):
        return [{"type": "text", "text": raw}]
    return list(raw) if isinstance(raw, list) else []


def _text_block(text: Any) -> SafeString:
    return format_html('<pre class="part-text">{}</pre>', _clip(text if isinstance(text, str) else _json(text)))


def _json_block(label: str, value: Any) -> SafeString:
    return format_html('<div class="part-label">{}</div><pre class="part-json">{}</pre>', label, _json(value))


def _media_ref(url: Any) -> str:
    """A file's location as text (never a live link or an inline image: the content is user-supplied)."""
    if not isinstance(url, str):
        return ""
    if url.startswith("data:"):
        return f"inline data URL ({url[5:].split(';', 1)[0].split(',', 1)[0] or 'unknown type'}, {len(url)} characters)"
    return _clip(url, 500)


def _tool_name(kind: str, part: dict[str, Any]) -> str | None:
    if kind in ("dynamic-tool", "tool-call", "tool-result"):
        return str(part.get("toolName") or "?")
    if kind.startswith("tool-"):
        return kind[5:]
    return None


def render_part(part: Any) -> SafeString:
    """One message part as readable, escaped HTML."""
    if not isinstance(part, dict):
        return format_html('<div class="part part-other">{}</div>', _text_block(part))
    kind = str(part.get("type") or "?")
    if kind == "text":
        return format_html('<div class="part part-text">{}</div>', _text_block(part.get("text", "")))
    if kind == "reasoning":
        return format_html(
            '<div class="part part-reasoning"><div class="part-label">Reasoning</div>{}</div>',
            _text_block(part.get("text", "")),
        )
    tool = _tool_name(kind, part)
    if tool is not None:
        state = part.get("state") or ("error" if part.get("isError") else "")
        blocks = []
        if "input" in part or "args" in part:
            blocks.append(_json_block("Input", part.get("input", part.get("args"))))
        if "output" in part or "result" in part:
            label = "Error" if part.get("isError") else "Output"
            blocks.append(_json_block(label, part.get("output", part.get("result"))))
        if part.get("errorText"):
            blocks.append(format_html('<div class="part-label">Error</div>{}', _text_block(part["errorText"])))
        return format_html(
            '<div class="part part-tool"><div class="part-label">Tool call <code>{}</code>{}{}</div>{}</div>',
            tool,
            format_html(" · {}", state) if state else "",
            format_html(" · <code>{}</code>", part["toolCallId"]) if part.get("toolCallId") else "",
            format_html_join("", "{}", ((b,) for b in blocks)),
        )
    if kind in ("file", "image"):
        media = part.get("mediaType") or part.get("mimeType") or ("image" if kind == "image" else "")
        where = _media_ref(part.get("url") or part.get("image") or part.get("data"))
        return format_html(
            '<div class="part part-file"><div class="part-label">File</div>{}{}{}</div>',
            format_html("<code>{}</code> ", part["filename"]) if part.get("filename") else "",
            format_html("{} ", media) if media else "",
            format_html("· {}", where) if where else "",
        )
    if kind.startswith("source"):
        return format_html(
            '<div class="part part-source"><div class="part-label">Source</div>{} {}</div>',
            part.get("title") or "",
            _media_ref(part.get("url")) or part.get("mediaType") or part.get("sourceId") or "",
        )
    if kind == "step-start":
        return format_html('<div class="part part-step">{}</div>', "step")
    return format_html('<div class="part part-other">{}</div>', _json_block(kind, part))


def render_message(content: Any) -> SafeString:
    """A message's parts, readable; the stored JSON behind a toggle."""
    parts = message_parts(content)
    rendered = format_html_join("", "{}", ((render_part(p),) for p in parts)) if parts else format_html(
        '<div class="part part-empty">{}</div>', "(no parts)"
    )
    return format_html(
        '<div class="message-parts">{}</div><details class="message-raw"><summary>raw JSON</summary>'
        "<pre>{}</pre></details>",
        rendered,
        _json(content, RAW_JSON_CHARS),
    )


def tree_order(messages: list[Message]) -> list[Message]:
    """Depth-first: each message right after its parent, siblings oldest first; orphans (none expected) last."""
    children: dict[int | None, list[Message]] = defaultdict(list)
    for message in messages:  # already sorted by (height, created_at, id)
        children[message.parent_id].append(message)
    ordered: list[Message] = []
    seen: set[int] = set()
    stack = list(reversed(children[None]))
    while stack:
        message = stack.pop()
        if message.pk in seen:
            continue
        seen.add(message.pk)
        ordered.append(message)
        stack.extend(reversed(children.get(message.pk, [])))
    ordered.extend(m for m in messages if m.pk not in seen)
    return ordered


def message_total() -> Coalesce:
    """A correlated count per listed row: no GROUP BY over every thread of every workspace."""
    counts = (
        Message.unscoped_for_operators.filter(thread=OuterRef("pk")).order_by().values("thread").annotate(n=Count("pk"))
    )
    return Coalesce(Subquery(counts.values("n"), output_field=IntegerField()), 0)


@admin.register(Thread)
class ThreadAdmin(ReadOnlyAdmin):
    list_display = ("id", "workspace_key", "title", "message_count", "last_message_at", "is_archived")
    list_filter = ("is_archived", "org_id")
    search_fields = ("user_id", "org_id", "title", "=id")
    ordering = ("-last_message_at", "-id")
    show_full_result_count = False
    fields = (
        "id",
        "workspace_key",
        "user_id",
        "org_id",
        "title",
        "is_archived",
        "external_id",
        "metadata",
        "created_at",
        "updated_at",
        "last_message_at",
        "message_tree",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Thread]:
        qs = Thread.unscoped_for_operators.annotate(message_total=message_total())
        return qs.order_by(*(self.get_ordering(request) or ()))

    @admin.display(description="messages", ordering="message_total")
    def message_count(self, obj: Thread) -> int:
        return obj.message_total

    @admin.display(description="messages (tree order)")
    def message_tree(self, obj: Thread) -> SafeString | str:
        rows = list(
            Message.unscoped_for_operators.filter(thread_id=obj.pk)
            .select_related("parent")
            .order_by("height", "created_at", "id")[: MAX_TREE_MESSAGES + 1]
        )
        if not rows:
            return "No messages."
        truncated = len(rows) > MAX_TREE_MESSAGES
        items = format_html_join(
            "",
            '<li class="message" data-message-id="{}" style="margin-left:{}em;list-style:none">'
            '<div class="message-head"><strong>{}</strong> <code>{}</code> {} · {} · {}</div>{}</li>',
            (
                (
                    m.message_id,
                    m.height * INDENT_EM,
                    m.role or "?",
                    m.message_id,
                    m.format,
                    m.status,
                    m.created_at.isoformat(timespec="seconds"),
                    render_message(m.content),
                )
                for m in tree_order(rows[:MAX_TREE_MESSAGES])
            ),
        )
        note = format_html("<p>First {} messages shown.</p>", MAX_TREE_MESSAGES) if truncated else ""
        return format_html('<ul class="message-tree" style="padding:0">{}</ul>{}', items, note)


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ("message_id", "thread", "role", "format", "status", "height", "created_at")
    list_filter = ("format", "status")
    search_fields = ("=message_id", "=thread__id")
    list_select_related = ("thread",)
    show_full_result_count = False
    raw_id_fields = ("thread", "parent")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Message]:
        qs = Message.unscoped_for_operators.select_related("thread")
        return qs.order_by(*(self.get_ordering(request) or ("-created_at",)))


@admin.register(RunReport)
class RunReportAdmin(ReadOnlyAdmin):
    list_display = ("id", "thread", "status", "model_id", "input_tokens", "output_tokens", "duration_ms", "created_at")
    list_filter = ("status",)
    search_fields = ("=id", "=thread__id", "model_id")
    list_select_related = ("thread",)
    raw_id_fields = ("thread",)


@admin.register(MessageFeedback)
class MessageFeedbackAdmin(ReadOnlyAdmin):
    list_display = ("id", "type", "message", "created_at")
    list_filter = ("type",)
    list_select_related = ("message",)
    raw_id_fields = ("message",)


# --- /v1 attachments, scores, run leases, traces ---------------------------------------------------------------

from threads.models import Attachment, RunLease, Score, TraceBatch  # noqa: E402


@admin.register(Attachment)
class AttachmentAdmin(ReadOnlyAdmin):
    list_display = ("id", "filename", "content_type", "size", "status", "workspace_key", "thread", "created_at")
    list_filter = ("status", "content_type")
    search_fields = ("=id", "=thread__id", "=user_id", "=org_id", "filename")
    list_select_related = ("thread",)
    raw_id_fields = ("thread",)


@admin.register(Score)
class ScoreAdmin(ReadOnlyAdmin):
    list_display = ("name", "data_type", "value", "string_value", "target", "user_id", "updated_at")
    list_filter = ("data_type", "name")
    search_fields = ("=thread__id", "=user_id", "name", "target")
    raw_id_fields = ("thread", "message")


@admin.register(RunLease)
class RunLeaseAdmin(ReadOnlyAdmin):
    list_display = ("id", "thread", "message", "status", "stale", "end_reason", "last_heartbeat_at", "created_at")
    list_filter = ("status", "end_reason")
    search_fields = ("=id", "=thread__id")
    list_select_related = ("thread", "message")
    raw_id_fields = ("thread", "message")

    @admin.display(boolean=True, description="stale")
    def stale(self, obj: RunLease) -> bool:
        from datetime import timedelta

        from django.utils import timezone

        from threads.cloud.leases import lease_settings

        limit = timedelta(seconds=lease_settings.STALE_AFTER_SECONDS)
        return obj.status == "running" and timezone.now() - obj.last_heartbeat_at > limit


@admin.register(TraceBatch)
class TraceBatchAdmin(ReadOnlyAdmin):
    """Traces per thread: search by the thread id (or filter from the thread's run reports' trace ids)."""

    list_display = ("trace_id", "thread", "span_count", "span_names", "workspace_key", "received_at")
    search_fields = ("=thread__id", "=trace_id")
    list_select_related = ("thread",)
    raw_id_fields = ("thread",)
    readonly_fields = ("spans_pretty",)
    exclude = ("spans",)

    @admin.display(description="spans")
    def span_names(self, obj: TraceBatch) -> str:
        names = [s.get("name", "?") for s in obj.spans[:5] if isinstance(s, dict)]
        return ", ".join(names) + (" ..." if len(obj.spans) > 5 else "")

    @admin.display(description="spans (JSON)")
    def spans_pretty(self, obj: TraceBatch) -> SafeString:
        return format_html("<pre>{}</pre>", json.dumps(obj.spans, indent=2)[:RAW_JSON_CHARS])
