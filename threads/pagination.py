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

from rest_framework.exceptions import ValidationError

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
        moment = datetime.strptime(when, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as exc:
        raise ValidationError({"cursor": ["Invalid cursor: pass back a next_cursor from a previous page."]}) from exc
    return moment, thread_id


def page_limit(raw: str | None) -> int:
    """`limit` from the query string: a positive integer, silently capped at THREADS MAX_PAGE_SIZE."""
    if raw is None or raw == "":
        return threads_settings.PAGE_SIZE
    # ASCII digits only: int() would also take " 3", "+3", "1_0" and non-ASCII digits.
    if not (raw.isascii() and raw.isdigit()) or int(raw[:12]) < 1:
        raise ValidationError({"limit": ["A positive integer is required."]})
    return min(int(raw[:12]), threads_settings.MAX_PAGE_SIZE)
