"""The AI SDK UI message stream (v1): framing, headers, and the message that a stream assembles to.

Chunks are plain dicts with only the documented keys: older `ai` clients validate them with strict
schemas and reject anything extra.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

HEADERS = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    "Connection": "keep-alive",
    "x-vercel-ai-ui-message-stream": "v1",
    "X-Accel-Buffering": "no",
}

# assistant-stream's RESUMABLE_STREAM_ID_HEADER: names the stream a client can resume (here: the thread's id).
RESUMABLE_STREAM_ID_HEADER = "x-resumable-stream-id"

DONE = b"data: [DONE]\n\n"
KEEPALIVE = b": keep-alive\n\n"

Chunk = dict[str, Any]


def encode(chunk: Chunk) -> bytes:
    return b"data: " + json.dumps(chunk, separators=(",", ":"), ensure_ascii=False).encode() + b"\n\n"


def error_chunk(text: str) -> Chunk:
    return {"type": "error", "errorText": text}


@dataclass
class MessageAssembler:
    """Folds the chunks of one stream into the UI message a client would assemble (`parts`), for saving."""

    parts: list[dict[str, Any]] = field(default_factory=list)
    finish_reason: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)  # merged as the client merges messageMetadata
    errors: list[str] = field(default_factory=list)
    _open: dict[str, dict[str, Any]] = field(default_factory=dict)
    _tools: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, chunk: Chunk) -> None:
        kind = chunk["type"]
        if kind == "start-step":
            self.parts.append({"type": "step-start"})
        elif kind in ("text-start", "reasoning-start"):
            # As the AI SDK assembles them: a reasoning part keeps its stream id, a text part does not.
            part = {"type": "text", "text": "", "state": "streaming"}
            if kind == "reasoning-start":
                part = {"type": "reasoning", "id": chunk["id"], "text": "", "state": "streaming"}
            self._open[f"{part['type']}:{chunk['id']}"] = part
            self.parts.append(part)
        elif kind in ("text-delta", "reasoning-delta"):
            part = self._open.get(f"{kind.split('-')[0]}:{chunk['id']}")
            if part is not None:
                part["text"] += chunk["delta"]
        elif kind in ("text-end", "reasoning-end"):
            part = self._open.pop(f"{kind.split('-')[0]}:{chunk['id']}", None)
            if part is not None:
                part["state"] = "done"
        elif kind == "tool-input-start":
            part = {
                "type": f"tool-{chunk['toolName']}",
                "toolCallId": chunk["toolCallId"],
                "state": "input-streaming",
                "input": None,
            }
            self._tools[chunk["toolCallId"]] = part
            self.parts.append(part)
        elif kind in ("tool-input-available", "tool-input-error"):
            part = self._tools.get(chunk["toolCallId"])
            if part is not None:
                part["input"] = chunk.get("input")
                part["state"] = "input-available" if kind == "tool-input-available" else "output-error"
                if kind == "tool-input-error":
                    part["errorText"] = chunk["errorText"]
        elif kind == "error":
            self.errors.append(chunk["errorText"])
        elif kind == "finish":
            self.finish_reason = chunk.get("finishReason")
        if kind in ("start", "finish", "message-metadata") and isinstance(chunk.get("messageMetadata"), dict):
            self.metadata.update(chunk["messageMetadata"])

    def close_open(self) -> list[Chunk]:
        """The `*-end` chunks that close every part still streaming (a stop ends the reply mid-part), applied."""
        chunks = [{"type": f"{key.split(':', 1)[0]}-end", "id": key.split(":", 1)[1]} for key in list(self._open)]
        for chunk in chunks:
            self.add(chunk)
        return chunks

    def message(self, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
        """The `ai-sdk/v6` content: a UI message without its id."""
        content: dict[str, Any] = {"role": "assistant", "parts": [dict(p) for p in self.parts]}
        if metadata:
            content["metadata"] = metadata
        return content

    @property
    def text(self) -> str:
        return "".join(p["text"] for p in self.parts if p["type"] == "text")
