"""Request and response shapes of the threads API.

Request serializers are strict: an unknown field, a number where a string belongs or a string where
a boolean belongs is a 400 naming the field, never a silent coercion. Response serializers only read.
"""

from __future__ import annotations

import json
from typing import Any

from rest_framework import serializers

from threads.conf import threads_settings
from threads.models import MESSAGE_STATUSES


def json_size(value: Any) -> int:
    """Bytes of the value as compact UTF-8 JSON: the size limits are about what gets stored."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def storable_text(text: str) -> bool:
    """PostgreSQL refuses NUL characters and unpaired surrogates; refuse them up front on every database."""
    if "\x00" in text:
        return False
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def storable_json(value: Any) -> bool:
    """Every key and string in a parsed JSON value is storable text (iterative: no recursion limit)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not storable_text(item):
                return False
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True


class StrictCharField(serializers.CharField):
    """A string and only a string (DRF's CharField would turn 12 into "12")."""

    default_error_messages = {"unstorable": "Must not contain NUL characters or unpaired surrogates."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        if not storable_text(data):
            self.fail("unstorable")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """`true` or `false` only (DRF's BooleanField would accept "yes" and 1)."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class JSONObjectField(serializers.JSONField):
    """A JSON object no larger than the THREADS setting named by `limit_setting`."""

    default_error_messages = {
        "not_object": "Expected a JSON object.",
        "unstorable": "Strings must not contain NUL characters or unpaired surrogates.",
        "too_large": "Too large: {size} bytes as JSON, the limit is {limit} (THREADS {setting}).",
    }

    def __init__(self, *, limit_setting: str, **kwargs: Any) -> None:
        self.limit_setting = limit_setting
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            self.fail("not_object")
        if not storable_json(data):
            self.fail("unstorable")
        limit = getattr(threads_settings, self.limit_setting)
        size = json_size(data)
        if size > limit:
            self.fail("too_large", size=size, limit=limit, setting=self.limit_setting)
        return data


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not declare, naming them."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


# Requests


class ThreadCreateSerializer(StrictSerializer):
    title = StrictCharField(max_length=500, required=False, allow_null=True, allow_blank=True, trim_whitespace=False)
    metadata = JSONObjectField(limit_setting="MAX_METADATA_BYTES", required=False)
    external_id = StrictCharField(max_length=255, required=False, allow_null=True, trim_whitespace=False)


class ThreadUpdateSerializer(StrictSerializer):
    title = StrictCharField(max_length=500, required=False, allow_null=True, allow_blank=True, trim_whitespace=False)
    is_archived = StrictBooleanField(required=False)
    metadata = JSONObjectField(
        limit_setting="MAX_METADATA_BYTES", required=False, allow_null=True, help_text="null clears it."
    )


class MessageCreateSerializer(StrictSerializer):
    id = StrictCharField(
        max_length=128,
        required=False,
        trim_whitespace=False,
        help_text="Client-chosen id, unique in the thread. Sending the same id again returns the stored message.",
    )
    parent_id = StrictCharField(
        max_length=128,
        required=False,
        allow_null=True,
        trim_whitespace=False,
        help_text="A message of the same thread; null for a root.",
    )
    format = StrictCharField(max_length=64, help_text="`aui/v0`, `ai-sdk/v6`, or any other label, stored as given.")
    content = JSONObjectField(limit_setting="MAX_CONTENT_BYTES")
    status = serializers.ChoiceField(choices=MESSAGE_STATUSES, required=False)


class MessageUpdateSerializer(StrictSerializer):
    content = JSONObjectField(limit_setting="MAX_CONTENT_BYTES", required=False)
    status = serializers.ChoiceField(choices=MESSAGE_STATUSES, required=False)
    parent_id = StrictCharField(
        max_length=128,
        required=False,
        allow_null=True,
        trim_whitespace=False,
        help_text="Move the message (and its replies) under another; null makes it a root.",
    )


# Responses


class ThreadSerializer(serializers.Serializer):
    id = serializers.CharField(read_only=True)
    title = serializers.CharField(read_only=True, allow_null=True)
    is_archived = serializers.BooleanField(read_only=True)
    metadata = serializers.JSONField(read_only=True)
    external_id = serializers.CharField(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)
    last_message_at = serializers.DateTimeField(read_only=True)


class ThreadPageSerializer(serializers.Serializer):
    threads = ThreadSerializer(many=True, read_only=True)
    next_cursor = serializers.CharField(
        read_only=True, allow_null=True, help_text="Pass as `cursor` for the next page; null on the last page."
    )


class MessageSerializer(serializers.Serializer):
    id = serializers.CharField(source="message_id", read_only=True)
    parent_id = serializers.CharField(source="parent_message_id", read_only=True, allow_null=True)
    height = serializers.IntegerField(read_only=True, help_text="Depth in the tree; roots are 0.")
    format = serializers.CharField(read_only=True)
    content = serializers.JSONField(read_only=True)
    status = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


class MessageListSerializer(serializers.Serializer):
    messages = MessageSerializer(many=True, read_only=True, help_text="Parents before children.")
