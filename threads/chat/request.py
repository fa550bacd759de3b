"""The body that `DefaultChatTransport` / `AssistantChatTransport` send, validated, and its OpenAI form.

Browser-supplied provider settings (`config.apiKey`, `config.baseUrl`, `config.modelName`, `callSettings.headers`)
are read past and never used: the browser does not choose where our key goes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from config.errors import ApiError
from config.validation import parse_json_body, storable_json
from threads.chat.conf import chat_settings

ID_RE = re.compile(r"^[A-Za-z0-9_\-:.]{1,128}$")
TOOL_NAME_RE = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
ROLES = ("system", "user", "assistant")
TRIGGERS = ("submit-message", "regenerate-message")
NUMERIC_CALL_SETTINGS = {
    "temperature": ("temperature", 0.0, 2.0),
    "topP": ("top_p", 0.0, 1.0),
    "presencePenalty": ("presence_penalty", -2.0, 2.0),
    "frequencyPenalty": ("frequency_penalty", -2.0, 2.0),
}


class BadChatRequest(ValueError):
    """The body is not a chat request we can serve; the message says what is wrong."""


@dataclass(frozen=True)
class FrontendTool:
    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class ChatRequest:
    thread_id: str
    messages: list[dict[str, Any]]
    trigger: str = "submit-message"
    message_id: str | None = None
    only_last: bool = False  # the body carried one `message`: it continues the thread's head
    system: str | None = None
    tools: tuple[FrontendTool, ...] = ()
    call_settings: dict[str, Any] = field(default_factory=dict)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise BadChatRequest(message)


def _validate_message(index: int, message: Any) -> dict[str, Any]:
    where = f"messages[{index}]"
    _require(isinstance(message, dict), f"{where} must be an object")
    _require(isinstance(message.get("id"), str) and ID_RE.match(message["id"]) is not None, f"{where}.id is invalid")
    _require(message.get("role") in ROLES, f"{where}.role must be one of {', '.join(ROLES)}")
    parts = message.get("parts")
    _require(isinstance(parts, list), f"{where}.parts must be a list")
    for j, part in enumerate(parts):
        _require(isinstance(part, dict) and isinstance(part.get("type"), str), f"{where}.parts[{j}] needs a type")
        if part["type"] in ("text", "reasoning"):
            _require(isinstance(part.get("text"), str), f"{where}.parts[{j}].text must be a string")
    metadata = message.get("metadata")
    _require(metadata is None or isinstance(metadata, dict), f"{where}.metadata must be an object")
    return {"id": message["id"], "role": message["role"], "parts": parts, "metadata": metadata}


def _validate_tools(raw: Any) -> tuple[FrontendTool, ...]:
    if raw is None:
        return ()
    _require(isinstance(raw, dict), "tools must be an object of {name: {description?, parameters}}")
    _require(len(raw) <= 64, "tools: at most 64 tools")
    tools = []
    for name, spec in raw.items():
        _require(TOOL_NAME_RE.match(name) is not None, f"tools: invalid tool name {name!r}")
        _require(isinstance(spec, dict), f"tools.{name} must be an object")
        parameters = spec.get("parameters", {"type": "object", "properties": {}})
        _require(isinstance(parameters, dict), f"tools.{name}.parameters must be a JSON schema object")
        description = spec.get("description") or ""
        _require(isinstance(description, str), f"tools.{name}.description must be a string")
        tools.append(FrontendTool(name=name, description=description[:2000], parameters=parameters))
    return tuple(tools)


def _validate_call_settings(raw: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    _require(isinstance(raw, dict), "callSettings must be an object")
    out: dict[str, Any] = {}
    for key, (name, low, high) in NUMERIC_CALL_SETTINGS.items():
        value = raw.get(key)
        if value is None:
            continue
        _require(isinstance(value, int | float) and not isinstance(value, bool), f"callSettings.{key} must be a number")
        _require(low <= value <= high, f"callSettings.{key} must be between {low} and {high}")
        out[name] = value
    max_tokens = raw.get("maxTokens", raw.get("maxOutputTokens"))
    if max_tokens is not None:
        _require(
            isinstance(max_tokens, int) and not isinstance(max_tokens, bool) and max_tokens > 0,
            "callSettings.maxTokens must be a positive integer",
        )
        out["max_tokens"] = min(max_tokens, chat_settings.MAX_OUTPUT_TOKENS)
    seed = raw.get("seed")
    if seed is not None:
        _require(isinstance(seed, int) and not isinstance(seed, bool), "callSettings.seed must be an integer")
        out["seed"] = seed
    return out


def parse_chat_request(raw_body: bytes) -> ChatRequest:
    try:
        limit = chat_settings.MAX_BODY_BYTES
        body = parse_json_body(raw_body or b"null", max_bytes=limit, setting="CHAT_MAX_BODY_BYTES")
    except ApiError as exc:
        raise BadChatRequest(str(exc.detail)) from exc
    _require(isinstance(body, dict), "body must be a JSON object")
    _require(storable_json(body), "strings must not contain NUL characters or unpaired surrogates")
    thread_id = body.get("id")
    _require(isinstance(thread_id, str) and ID_RE.match(thread_id) is not None, "id (the chat/thread id) is required")
    # The AI SDK persistence guide's client sends only its last message, as `message`: the server holds the rest.
    only_last = "message" in body and "messages" not in body
    messages = [body["message"]] if only_last else body.get("messages")
    _require(isinstance(messages, list) and len(messages) > 0, "messages must be a non-empty list")
    _require(len(messages) <= chat_settings.MAX_MESSAGES, f"messages: at most {chat_settings.MAX_MESSAGES}")
    validated = [_validate_message(i, m) for i, m in enumerate(messages)]
    trigger = body.get("trigger", "submit-message")
    _require(trigger in TRIGGERS, f"trigger must be one of {', '.join(TRIGGERS)}")
    message_id = body.get("messageId")
    _require(
        message_id is None or (isinstance(message_id, str) and ID_RE.match(message_id) is not None),
        "messageId is invalid",
    )
    system = body.get("system")
    _require(system is None or isinstance(system, str), "system must be a string")
    _require(system is None or len(system) <= chat_settings.MAX_SYSTEM_CHARS, "system prompt is too long")
    request = ChatRequest(
        thread_id=thread_id,
        messages=validated,
        only_last=only_last,
        trigger=trigger,
        message_id=message_id,
        system=system or None,
        tools=_validate_tools(body.get("tools")),
        call_settings=_validate_call_settings(body.get("callSettings")),
    )
    _require(
        request.messages[-1]["role"] in ("user", "assistant"),
        "messages must end with a user message (or an assistant message whose tool calls now have outputs)",
    )
    return request


def _text_of(parts: list[dict[str, Any]]) -> str:
    return "".join(p.get("text", "") for p in parts if p.get("type") == "text")


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
            out.append({"role": "user", "content": _text_of(parts)})
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
