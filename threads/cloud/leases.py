"""Run leases (`open_run` on message create, heartbeat, end, `lease_id` on writes), kept in the database.

Why the database and not Redis: a lease guards a message write, so it is checked and renewed in the same
transaction as that write (row lock on the lease), it must survive a Redis flush or restart (a lost lease
would make the holder drop its answer), and it must be listed with the messages in one consistent read. Every
ASGI worker shares PostgreSQL, so every worker sees the same state. A heartbeat is one indexed UPDATE.

The server never expires a lease (the client's contract: a late run that beats again reads as running again);
listed messages report `last_heartbeat_ms_ago` and the client calls a running lease stale after its
`staleAfter`. `CLOUD_RUNS_STALE_AFTER_SECONDS` is the same threshold for the admin's display.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.db import transaction
from django.utils import timezone

from config.appsettings import AppSettings
from config.errors import ApiError
from threads.models import Message, RunLease, Thread

lease_settings = AppSettings(
    "CLOUD_RUNS",
    {
        # Sent to the lease holder as `heartbeat_interval_ms`.
        "HEARTBEAT_INTERVAL_MS": 10_000,
        # A running lease without a beat for this long shows as stale in the admin.
        "STALE_AFTER_SECONDS": 30,
    },
)

END_REASONS = ("done", "cancelled", "error")


def _mismatch() -> ApiError:
    return ApiError("lease_mismatch", "This lease does not hold this message.", 409)


def _ended() -> ApiError:
    return ApiError("run_ended", "This run has ended.", 409)


def open_lease(*, thread: Thread, message: Message) -> RunLease:
    """A new running lease on the message; an earlier running lease of the message ends (`cancelled`)."""
    now = timezone.now()
    with transaction.atomic():
        thread.run_leases.filter(message=message, status="running").update(
            status="ended", end_reason="cancelled", ended_at=now
        )
        return thread.run_leases.create(id="lease_" + secrets.token_urlsafe(16), message=message, last_heartbeat_at=now)


def lease_json(lease: RunLease) -> dict[str, Any]:
    return {"lease_id": lease.id, "heartbeat_interval_ms": lease_settings.HEARTBEAT_INTERVAL_MS}


def check_write(*, thread: Thread, message: Message, lease_id: str) -> RunLease:
    """Inside the write's transaction: the lease must be this message's and running; the write renews it."""
    assert transaction.get_connection().in_atomic_block
    lease = thread.run_leases.select_for_update().filter(id=lease_id).first()
    if lease is None or lease.message_id != message.pk:
        raise _mismatch()
    if lease.status != "running":
        raise _ended()
    lease.last_heartbeat_at = timezone.now()
    lease.save(update_fields=["last_heartbeat_at"])
    return lease


def heartbeat(*, thread: Thread, lease_id: str) -> None:
    with transaction.atomic():
        lease = thread.run_leases.select_for_update().filter(id=lease_id).first()
        if lease is None:
            raise ApiError("not_found", "Run lease not found.", 404)
        if lease.status != "running":
            raise _ended()
        lease.last_heartbeat_at = timezone.now()
        lease.save(update_fields=["last_heartbeat_at"])


def end(*, thread: Thread, lease_id: str, reason: str) -> None:
    """Idempotent: ending an ended run succeeds and keeps the first reason."""
    with transaction.atomic():
        lease = thread.run_leases.select_for_update().filter(id=lease_id).first()
        if lease is None:
            raise ApiError("not_found", "Run lease not found.", 404)
        if lease.status == "running":
            lease.status, lease.end_reason, lease.ended_at = "ended", reason, timezone.now()
            lease.save(update_fields=["status", "end_reason", "ended_at"])


def runs_of(*, thread: Thread, messages: list[Message]) -> dict[int, dict[str, Any]]:
    """`run` of each listed message that had a lease: its running lease, else its latest ended one."""
    if not messages:
        return {}
    now = timezone.now()
    chosen: dict[int, RunLease] = {}
    leases = thread.run_leases.filter(message__in=[m.pk for m in messages]).order_by("created_at")
    for lease in leases:
        current = chosen.get(lease.message_id)
        if current is None or current.status != "running" or lease.status == "running":
            chosen[lease.message_id] = lease
    return {
        pk: {
            "status": lease.status,
            "last_heartbeat_ms_ago": max(0, int((now - lease.last_heartbeat_at).total_seconds() * 1000)),
        }
        for pk, lease in chosen.items()
    }
