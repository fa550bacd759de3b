"""A client that stopped a reply says so by saving it.

Stopping in the AI SDK aborts the fetch: with a connection-owned generation the server sees a disconnect
(indistinguishable from a dropped network), with a server-owned one nothing at all. Right after a stop,
assistant-ui's history adapter appends the partial reply (`POST /api/threads/{id}/messages`) under the id
the `start` chunk gave it: the id of the reply this service is generating. That save is the stop signal:

- a resumable generation still running is asked to stop, from any worker (an entry in its log);
- a connection-owned one is marked stopped: it saves as `stopped` rather than `incomplete` once its
  connection's end cancels it, or, if it saved already, its saved reply becomes `stopped`.

Either way the stored reply keeps exactly what was generated (the client's copy is not taken), and the
thread is free for the next message as soon as the generation has ended.
"""

from __future__ import annotations

import contextlib

import redis
from django.core.cache import cache
from django.utils import timezone

from threads.chat.conf import chat_settings
from threads.models import Message

ENDED_BY_CLIENT = ("in_progress", "incomplete")


def _flag_key(message_id: str) -> str:
    return f"chat:client-stopped:{message_id}"


def client_saved_reply(message: Message) -> None:
    """Hook: `message` (an assistant message already stored) was sent again by id. Sync; never raises."""
    if message.role != "assistant" or message.status not in ENDED_BY_CLIENT:
        return
    with contextlib.suppress(Exception):
        cache.set(_flag_key(message.message_id), 1, timeout=int(chat_settings.MAX_DURATION_SECONDS) + 60)
    if chat_settings.RESUMABLE:
        _ask_owner_to_stop(message.thread_id, message.message_id)
    # After the flag (a generation saves, then reads the flag): one of the two sees the other.
    mark_stopped(message)


def _ask_owner_to_stop(thread_id: str, message_id: str) -> None:
    from threads.chat.resumable import STOP_FIELD, active_key, log_key

    client = redis.Redis.from_url(chat_settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=5)
    try:
        if client.get(active_key(thread_id)) == message_id.encode():
            client.xadd(log_key(message_id), {STOP_FIELD: b"1"})
    except redis.RedisError:
        pass  # the lease then ends the generation as incomplete, as for a lost worker
    finally:
        client.close()


def mark_stopped(message: Message) -> bool:
    """A reply that ended because its client left becomes `stopped`, its content unchanged (saved as streamed).

    One conditional UPDATE (no transaction held around the read), so it never waits on, or blocks, the
    generation saving the same row: whichever runs second sees the other's write."""
    updated = message.thread.messages.filter(pk=message.pk, status="incomplete").update(
        status="stopped", updated_at=timezone.now()
    )
    return updated == 1


def stopped_by_client(message_id: str) -> bool:
    try:
        return bool(cache.get(_flag_key(message_id)))
    except Exception:
        return False
