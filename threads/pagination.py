"""Keyset cursors for the thread list: opaque to clients, exact for the database.

A cursor names the last row a client has seen, `(last_message_at, id)`; the next page is every row
strictly after it in (last_message_at DESC, id DESC) order. Unlike offsets, rows inserted or
removed elsewhere in the list never make a later page skip or repeat a row.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Any

from rest_framework.exceptions import ValidationError

from config.validation import storable_text
from threads.conf import threads_settings
from threads.models import Thread

CURSOR_VERSION = 1


def encode_cursor(thread: Thread) -> str:
    """The position just after `thread`; microsecond timestamps so ties are broken only by id."""
    when = thread.last_message_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    raw = json.dumps([CURSOR_VERSION, when, thread.id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """`(last_message_at, id)` from a cursor this service issued; a 400 for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        version, when, thread_id = json.loads(raw)
        if version != CURSOR_VERSION or not isinstance(thread_id, str) or not isinstance(when, str):
            raise ValueError("unknown cursor version")
        if not storable_text(thread_id) or len(thread_id) > 64:
            raise ValueError("unknown cursor version")
        moment = datetime.strptime(when, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as exc:
        raise ValidationError({"cursor": ["Invalid cursor: pass back a next_cursor from a previous page."]}) from exc
    return moment, thread_id


def page_limit(raw: str | None, *, messages: bool = False) -> int:
    """`limit` from the query string, the same rule on both faces. Threads: absent means THREADS PAGE_SIZE,
    at most MAX_PAGE_SIZE. Messages: absent means, and at most, MESSAGE_PAGE_SIZE (the assistant-cloud client
    asks for 200). Anything else is a 400 naming the bound."""
    default = threads_settings.MESSAGE_PAGE_SIZE if messages else threads_settings.PAGE_SIZE
    maximum, setting = (
        (threads_settings.MESSAGE_PAGE_SIZE, "THREADS_MESSAGE_PAGE_SIZE")
        if messages
        else (threads_settings.MAX_PAGE_SIZE, "THREADS_MAX_PAGE_SIZE")
    )
    if raw is None or raw == "":
        return default
    # ASCII digits only: int() would also take " 3", "+3", "1_0" and non-ASCII digits.
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9 or not 1 <= int(raw) <= maximum:
        raise ValidationError({"limit": [f"Must be an integer from 1 to {maximum} ({setting})."]})
    return int(raw)


def query_bool(params: Any, name: str) -> bool:
    """A `true`/`false` query parameter; absent is false."""
    raw = params.get(name)
    if raw in (None, "", "false"):
        return False
    if raw == "true":
        return True
    raise ValidationError({name: ["Must be 'true' or 'false'."]})
