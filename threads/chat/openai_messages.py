"""UI messages (the turn's context, from the server's record) in the chat-completions format, and frontend tools.

A user message with file parts becomes content parts with a placeholder per file; the bytes are filled in just
before the model call (`threads.chat.attachments.inline_files_sync`), so this stays a pure function.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from threads.chat.conf import chat_settings

if TYPE_CHECKING:
    from threads.chat.request import ChatRequest

FILE_PLACEHOLDER = "service-file"  # never sent: replaced by threads.chat.attachments.inline_files_sync


def _text_of(parts: list[dict[str, Any]]) -> str:
    return "".join(p.get("text", "") for p in parts if p.get("type") == "text")


def _user_content(parts: list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    """A user message's text, or, when it has file parts, its content parts in order: text, and a placeholder
    per file that `threads.chat.attachments.inline_files` replaces with the bytes (or a note) before the call."""
    if not any(p.get("type") == "file" for p in parts):
        return _text_of(parts)
    content: list[dict[str, Any]] = []
    for part in parts:
        if part.get("type") == "text" and isinstance(part.get("text"), str):
            if content and content[-1]["type"] == "text":
                content[-1] = {"type": "text", "text": content[-1]["text"] + part["text"]}
            else:
                content.append({"type": "text", "text": part["text"]})
        elif part.get("type") == "file":
            content.append(
                {
                    "type": FILE_PLACEHOLDER,
                    "url": str(part.get("url") or ""),
                    "media_type": str(part.get("mediaType") or ""),
                    "filename": str(part.get("filename") or ""),
                }
            )
    return content


def _tool_name(part: dict[str, Any]) -> str | None:
    kind = part.get("type", "")
    if kind == "dynamic-tool":
        return part.get("toolName")
    return kind[5:] if kind.startswith("tool-") else None


def to_openai_messages(history: Any, *, system: str | None = None) -> list[dict[str, Any]]:
    """UI messages (the turn's context, from the server's record) to chat-completions messages: the server's
    system prompt plus the documented `system` option, then user text, and assistant text with frontend tool
    calls and their results. No other system text: a `system` UI message is never forwarded."""
    prompt = chat_settings.SYSTEM_PROMPT
    if system:
        prompt = f"{prompt}\n\n{system}" if prompt else system
    out: list[dict[str, Any]] = [{"role": "system", "content": prompt}] if prompt else []
    for message in history:
        parts = message["parts"]
        if message["role"] == "user":
            out.append({"role": "user", "content": _user_content(parts)})
            continue
        if message["role"] != "assistant":
            continue
        tool_calls, results = [], []
        for part in parts:
            name = _tool_name(part)
            if not name or not isinstance(part.get("toolCallId"), str):
                continue
            if part.get("state") not in ("input-available", "output-available", "output-error"):
                continue
            tool_calls.append(
                {
                    "id": part["toolCallId"],
                    "type": "function",
                    "function": {"name": name, "arguments": json.dumps(part.get("input") or {})},
                }
            )
            if part.get("state") == "output-available":
                results.append(
                    {"role": "tool", "tool_call_id": part["toolCallId"], "content": json.dumps(part.get("output"))}
                )
            elif part.get("state") == "output-error":
                results.append(
                    {
                        "role": "tool",
                        "tool_call_id": part["toolCallId"],
                        "content": json.dumps({"error": part.get("errorText", "")}),
                    }
                )
        assistant: dict[str, Any] = {"role": "assistant", "content": _text_of(parts) or None}
        if tool_calls:
            assistant["tool_calls"] = tool_calls
        if assistant["content"] is not None or tool_calls:
            out.append(assistant)
        out.extend(results)
    return out


def openai_tools(request: ChatRequest) -> list[dict[str, Any]]:
    return [
        {"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}
        for t in request.tools
    ]
