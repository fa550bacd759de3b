"""What a chat test sends and reads: UI messages, a /api/chat body, the SSE payloads of a reply."""

from __future__ import annotations

import json
from typing import Any


def user_message(text: str = "Hi there", message_id: str = "msg_user_1") -> dict[str, Any]:
    return {"id": message_id, "role": "user", "parts": [{"type": "text", "text": text}]}


def chat_body(thread_id: str = "thread_chat_1", *messages: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"id": thread_id, "messages": list(messages) or [user_message()], "trigger": "submit-message", **extra}


def sse_chunks(text: str) -> list[Any]:
    """The `data:` payloads of an SSE body, `[DONE]` included as the string."""
    out: list[Any] = []
    for event in text.split("\n\n"):
        if event.startswith("data: "):
            payload = event[len("data: ") :]
            out.append(payload if payload == "[DONE]" else json.loads(payload))
    return out


def finish_chunk(reason: str, model: str = "test-model") -> dict[str, Any]:
    """The `finish` chunk of a reply: its reason, and the messageMetadata the reply is saved with."""
    return {"type": "finish", "finishReason": reason, "messageMetadata": {"model": model, "finishReason": reason}}
