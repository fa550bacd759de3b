"""The chat-data fields both faces accept, with one set of limits: `/api` and `/v1` build their serializers
from these, so a thread's title, metadata, message content or id is held to the same rule whoever sent it."""

from __future__ import annotations

from typing import Any

from config.validation import JSONObjectField, StrictCharField, TimestampField
from threads.conf import threads_settings

TITLE_MAX_CHARS = 500
EXTERNAL_ID_MAX_CHARS = 255
MESSAGE_ID_MAX_CHARS = 128
FORMAT_MAX_CHARS = 64


def title_field(**kwargs: Any) -> StrictCharField:
    return StrictCharField(max_length=TITLE_MAX_CHARS, required=False, allow_null=True, allow_blank=True, **kwargs)


def metadata_field(**kwargs: Any) -> JSONObjectField:
    return JSONObjectField(
        max_bytes=lambda: threads_settings.MAX_METADATA_BYTES, setting="THREADS_MAX_METADATA_BYTES", **kwargs
    )


def content_field(**kwargs: Any) -> JSONObjectField:
    return JSONObjectField(
        max_bytes=lambda: threads_settings.MAX_CONTENT_BYTES, setting="THREADS_MAX_CONTENT_BYTES", **kwargs
    )


def external_id_field(**kwargs: Any) -> StrictCharField:
    return StrictCharField(max_length=EXTERNAL_ID_MAX_CHARS, required=False, allow_null=True, **kwargs)


def message_id_field(**kwargs: Any) -> StrictCharField:
    return StrictCharField(max_length=MESSAGE_ID_MAX_CHARS, **kwargs)


def format_field(**kwargs: Any) -> StrictCharField:
    return StrictCharField(max_length=FORMAT_MAX_CHARS, **kwargs)


def timestamp_field(**kwargs: Any) -> TimestampField:
    return TimestampField(required=False, allow_null=True, **kwargs)
