"""The Assistant Cloud wire shapes: exactly the keys and formats the client's strict decoders accept.

Timestamps are `YYYY-MM-DDTHH:MM:SS.mmmZ` (what `Date#toISOString()` prints); nullable keys are always
present. Request bodies go through the shared serializer fields, so every refusal names the field that was wrong.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers, status

from chatauth.caller import Workspace
from chatauth.cloud.conf import cloud_settings
from chatauth.cloud.tokens import workspace_id_of
from config.errors import ApiError
from config.validation import (
    StorableJSONListField,
    StrictBooleanField,
    StrictCharField,
    StrictIntegerField,
    StrictSerializer,
    format_timestamp,
    json_size,
    storable_json,
)
from threads.conf import threads_settings
from threads.fields import (
    content_field,
    external_id_field,
    format_field,
    message_id_field,
    metadata_field,
    timestamp_field,
    title_field,
)
from threads.models import Message, Thread


def not_found(what: str = "Thread") -> ApiError:
    return ApiError("not_found", f"{what} not found.", status.HTTP_404_NOT_FOUND)


def thread_json(thread: Thread) -> dict[str, Any]:
    return {
        "id": thread.id,
        "project_id": cloud_settings.PROJECT_ID,
        "workspace_id": workspace_id_of(Workspace(user_id=thread.user_id, org_id=thread.org_id)),
        "title": thread.title,
        "last_message_at": format_timestamp(thread.last_message_at),
        "created_at": format_timestamp(thread.created_at),
        "updated_at": format_timestamp(thread.updated_at),
        "is_archived": thread.is_archived,
        "external_id": thread.external_id,
        "metadata": thread.metadata if isinstance(thread.metadata, dict) else {},
    }


def message_json(message: Message, run: dict[str, Any] | None = None) -> dict[str, Any]:
    extra = {"run": run} if run is not None else {}
    return {
        "id": message.message_id,
        "parent_id": message.parent.message_id if message.parent_id else None,
        "height": message.height,
        "created_at": format_timestamp(message.created_at),
        "updated_at": format_timestamp(message.updated_at),
        "format": message.format,
        "content": message.content,
        "external_id": None,
        **extra,
    }


# --- request bodies: the shared field types of `threads.fields` / `config.validation` --------------------------


class ThreadCreateBody(StrictSerializer):
    title = title_field()
    last_message_at = timestamp_field()
    metadata = metadata_field(required=False, allow_null=True)
    external_id = external_id_field()
    upsert = StrictBooleanField(required=False, allow_null=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("upsert") and not attrs.get("external_id"):
            raise serializers.ValidationError({"upsert": ["Needs an external_id."]})
        return attrs


class ThreadUpdateBody(StrictSerializer):
    title = title_field()
    last_message_at = timestamp_field()
    metadata = metadata_field(required=False, allow_null=True)
    is_archived = StrictBooleanField(required=False, allow_null=True)


class RefreshTokenBody(StrictSerializer):
    refresh_token = StrictCharField(max_length=200)


class MessageCreateBody(StrictSerializer):
    parent_id = external_id_field()
    parent_external_id = external_id_field()
    format = format_field()
    content = content_field()
    external_id = external_id_field()
    # Run leases: open one on the stored message, or write (a repeated append of `external_id`) as its holder.
    open_run = StrictBooleanField(required=False)
    lease_id = StrictCharField(max_length=64, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("lease_id") and not attrs.get("external_id"):
            raise serializers.ValidationError({"lease_id": ["Writing as a lease holder needs the external_id."]})
        return attrs


class MessagesDeleteBody(StrictSerializer):
    message_ids = serializers.ListField(child=message_id_field(), max_length=1000, allow_empty=True)


class MessageUpdateBody(StrictSerializer):
    content = content_field()
    lease_id = StrictCharField(max_length=64, required=False)


class RunEndBody(StrictSerializer):
    reason = serializers.ChoiceField(choices=("done", "cancelled", "error"), required=False)


class FeedbackBody(StrictSerializer):
    type = serializers.ChoiceField(choices=("positive", "negative"))
    comment = StrictCharField(max_length=5000, required=False, allow_null=True, allow_blank=True)


class RunStreamBody(serializers.Serializer):
    """The client sends more than we read (assistant config, tools); only these are checked and used."""

    thread_id = StrictCharField(max_length=255)
    assistant_id = StrictCharField(max_length=255)
    messages = StorableJSONListField(max_items=1000, required=False)


class RunReportBody(serializers.Serializer):
    """Run telemetry: the counted fields are checked, the whole (storable, bounded) body is kept for the admin."""

    thread_id = StrictCharField(max_length=255)
    status = serializers.ChoiceField(choices=("completed", "incomplete", "error"))
    model_id = StrictCharField(max_length=200, required=False, allow_null=True)
    input_tokens = StrictIntegerField(required=False, allow_null=True)
    output_tokens = StrictIntegerField(required=False, allow_null=True)
    duration_ms = StrictIntegerField(required=False, allow_null=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        raw = self.initial_data
        if not storable_json(raw):
            raise serializers.ValidationError("Strings must not contain NUL characters or unpaired surrogates.")
        limit = threads_settings.MAX_CONTENT_BYTES
        if json_size(raw) > limit:
            raise serializers.ValidationError(f"The run report is over {limit} bytes (THREADS_MAX_CONTENT_BYTES).")
        return attrs


class EventsBody(serializers.Serializer):
    events = serializers.ListField(child=serializers.JSONField(), max_length=100)
