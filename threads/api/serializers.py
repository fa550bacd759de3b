"""Request and response shapes of the threads API.

Request serializers are strict: an unknown field, a number where a string belongs or a string where
a boolean belongs is a 400 naming the field, never a silent coercion. Response serializers only read.
"""

from __future__ import annotations

from rest_framework import serializers

from config.validation import StrictBooleanField, StrictSerializer
from threads.fields import content_field, external_id_field, format_field, message_id_field, metadata_field, title_field
from threads.models import MESSAGE_STATUSES

# Requests


class ThreadCreateSerializer(StrictSerializer):
    title = title_field()
    metadata = metadata_field(required=False)
    external_id = external_id_field()


class ThreadUpdateSerializer(StrictSerializer):
    title = title_field()
    is_archived = StrictBooleanField(required=False)
    metadata = metadata_field(required=False, allow_null=True, help_text="null clears it.")


class MessageCreateSerializer(StrictSerializer):
    id = message_id_field(
        required=False,
        help_text="Client-chosen id, unique in the thread. Sending the same id again returns the stored message.",
    )
    parent_id = message_id_field(
        required=False, allow_null=True, help_text="A message of the same thread; null for a root."
    )
    format = format_field(help_text="`aui/v0`, `ai-sdk/v6`, or any other label, stored as given.")
    content = content_field()
    status = serializers.ChoiceField(choices=MESSAGE_STATUSES, required=False)


class MessageUpdateSerializer(StrictSerializer):
    content = content_field(required=False)
    status = serializers.ChoiceField(choices=MESSAGE_STATUSES, required=False)
    parent_id = message_id_field(
        required=False,
        allow_null=True,
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
    next_cursor = serializers.CharField(
        read_only=True, allow_null=True, help_text="Pass as `cursor` for the next page; null on the last page."
    )
    head_id = serializers.CharField(
        read_only=True, allow_null=True, help_text="The current branch's newest message (after edits and retries)."
    )
