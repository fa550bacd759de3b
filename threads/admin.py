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


def _content_text(content: Any) -> str:
    text = json.dumps(content, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= CONTENT_PREVIEW_CHARS else text[:CONTENT_PREVIEW_CHARS] + "…"


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
            '<strong>{}</strong> <code>{}</code> {} · {} · {}<pre style="white-space:pre-wrap">{}</pre></li>',
            (
                (
                    m.message_id,
                    m.height * INDENT_EM,
                    m.role or "?",
                    m.message_id,
                    m.format,
                    m.status,
                    m.created_at.isoformat(timespec="seconds"),
                    _content_text(m.content),
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
