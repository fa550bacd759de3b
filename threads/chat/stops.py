"""A client that stopped a reply says so by saving it.

Stopping in the AI SDK aborts the fetch: with a connection-owned generation the server sees a disconnect
(indistinguishable from a dropped network), with a server-owned one nothing at all. Right after a stop,
assistant-ui's history adapter appends the partial reply (`POST /api/threads/{id}/messages`) under the id
the `start` chunk gave it: the id of the reply this service is generating. That save is the stop signal:

- a resumable generation still running is asked to stop, from any worker (an entry in its log);
- a connection-owned one running in this process is stopped; on another worker it is marked: it saves as
  `stopped` rather than `incomplete` once its connection's end cancels it, or, if it saved already, its saved
  reply becomes `stopped`. (Node's fetch often keeps reading an aborted response to reuse the connection,
  so an abort alone is not always a disconnect.)

The stored reply is what was generated up to the stop, as the client has it: the client's parts are taken
only when they are a prefix of what was generated (it stopped reading there); anything else keeps the
server's record. A failed reply saved by the history adapter is not a stop. The thread is free for the
next message as soon as the generation has ended.
"""

from __future__ import annotations

import contextlib
from typing import Any

import redis
from django.core.cache import cache
from django.utils import timezone

from chatauth.caller import Workspace
from threads import services
from threads.chat.conf import chat_settings
from threads.models import Message

ENDED_BY_CLIENT = ("in_progress", "incomplete")


def _flag_key(message_id: str) -> str:
    return f"chat:client-stopped:{message_id}"


def client_saved_reply(message: Message, content: Any = None) -> None:
    """Hook: `message` (an assistant message already stored) was sent again by id, with the client's `content`.
    Sync; never raises."""
    if message.role != "assistant" or message.status not in ENDED_BY_CLIENT or _failed(message.content):
        return  # a failed reply the history adapter saves as it ended is not a stop
    parts = content.get("parts") if isinstance(content, dict) else None
    with contextlib.suppress(Exception):
        timeout = int(chat_settings.MAX_DURATION_SECONDS) + 60
        cache.set(_flag_key(message.message_id), {"parts": parts if isinstance(parts, list) else None}, timeout)
    if chat_settings.RESUMABLE:
        _ask_owner_to_stop(message.thread_id, message.message_id)
    else:
        from threads.chat.stream import stop_soon  # the stream module uses this one

        stop_soon(message.thread_id, message.message_id)
    # After the flag (a generation saves, then reads the flag): one of the two sees the other.
    mark_stopped(message)


def _failed(content: Any) -> bool:
    metadata = content.get("metadata") if isinstance(content, dict) else None
    return isinstance(metadata, dict) and metadata.get("finishReason") == "error"


def _prefix_of(client: Any, generated: list[Any]) -> bool:
    """The client's parts are what was generated, cut where the client stopped reading (a text may be shorter,
    a part still `streaming`); anything else (another tool call, other text) is not taken."""
    if not isinstance(client, list) or not client or len(client) > len(generated):
        return False
    last = len(client) - 1
    for index, (sent, made) in enumerate(zip(client, generated, strict=False)):
        if not isinstance(sent, dict) or not isinstance(made, dict) or sent.get("type") != made.get("type"):
            return False
        if made.get("type") in ("text", "reasoning"):
            text, full = sent.get("text"), made.get("text") or ""
            cut = isinstance(text, str) and (full.startswith(text) if index == last else full == text)
            if not cut or set(sent) - {*made, "state"}:  # only the part it was reading may be cut short
                return False
            if sent.get("state") not in ("streaming", "done") or any(
                sent.get(k) != made.get(k) for k in made if k not in ("text", "state")
            ):
                return False
        elif sent != made:
            return False
    return True


def as_client_stopped(message_id: str, content: dict[str, Any]) -> dict[str, Any]:
    """A reply its client stopped, as that client has it: its copy of the parts when they are a prefix of what
    was generated (it stopped reading there), so the saved reply equals what it shows; else `content`."""
    try:
        flag = cache.get(_flag_key(message_id))
    except Exception:
        return content
    parts = flag.get("parts") if isinstance(flag, dict) else None
    if _prefix_of(parts, list(content.get("parts") or [])):
        return {**content, "parts": parts}
    return content


def _ask_owner_to_stop(thread_id: str, message_id: str) -> None:
    from threads.chat.resumable import STOP_FIELD, active_key, stop_key

    client = redis.Redis.from_url(chat_settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=5)
    try:
        if client.get(active_key(thread_id)) == message_id.encode():
            key = stop_key(message_id)
            client.xadd(key, {STOP_FIELD: b"1"}, maxlen=4, approximate=True)
            client.expire(key, chat_settings.MAX_DURATION_SECONDS + chat_settings.LOG_TTL_SECONDS)
    except redis.RedisError:
        pass  # the lease then ends the generation as incomplete, as for a lost worker
    finally:
        client.close()


def mark_stopped(message: Message) -> bool:
    """A reply that ended because its client left becomes `stopped`, its content unchanged (saved as streamed).

    One conditional UPDATE (no transaction held around the read), so it never waits on, or blocks, the
    generation saving the same row: whichever runs second sees the other's write."""
    current = message.thread.messages.filter(pk=message.pk).values_list("status", "content").first()
    if current is None or current[0] != "incomplete" or _failed(current[1]):
        return False
    content = as_client_stopped(message.message_id, current[1]) if isinstance(current[1], dict) else current[1]
    updated = message.thread.messages.filter(pk=message.pk, status="incomplete").update(
        status="stopped", content=content, updated_at=timezone.now()
    )
    return updated == 1


def stopped_by_client(message_id: str) -> bool:
    try:
        return bool(cache.get(_flag_key(message_id)))
    except Exception:
        return False


def flag_running_replies(*, workspace: Workspace, thread_id: str) -> str | None:
    """A stop for the thread's replies still being generated on another worker (sync): each is flagged as
    stopped by its client, so its connection's end saves it `stopped`. The last one's id, or None."""
    try:
        thread = services.thread_get(workspace=workspace, thread_id=thread_id)
    except services.NotFound:
        return None
    running = list(thread.messages.filter(role="assistant", status="in_progress"))
    for message in running:
        client_saved_reply(message)
    return running[-1].message_id if running else None
