"""The body that `DefaultChatTransport` / `AssistantChatTransport` send, validated (its OpenAI form: `openai_messages`).

Validation is `config.validation`'s, the layer `/api` and `/v1` use: its strict field types (a string is a
string, storable, bounded; integers are never booleans) in serializers that describe the AI SDK body. The body
itself is not a `StrictSerializer`: the transports add fields of their own and the caller's `body` extras, and
those are read past. Browser-supplied provider settings (`config.apiKey`, `config.baseUrl`, `config.modelName`,
`callSettings.headers`) are read past too and never used: the browser does not choose where our key goes.
A refusal names the field (`messages[0].role: ...`) in one sentence.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any

from django.core.validators import RegexValidator
from rest_framework import serializers

from config.errors import ApiError
from config.validation import (
    JSONObjectField,
    StrictCharField,
    StrictIntegerField,
    parse_json_body,
    storable_json,
)
from threads.chat.conf import chat_settings
from threads.chat.openai_messages import openai_tools, to_openai_messages
from threads.models import Thread

# The OpenAI form lives in threads.chat.openai_messages; named here too, where the stream imports it from.
__all__ = ["BadChatRequest", "ChatRequest", "NewFile", "openai_tools", "parse_chat_request", "to_openai_messages"]

ID_RE = re.compile(r"^[A-Za-z0-9_\-:.]{1,128}$")
THREAD_ID_MAX = Thread._meta.get_field("id").max_length  # a longer chat id could never be stored
TOOL_NAME_RE = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
ROLES = ("system", "user", "assistant")
TRIGGERS = ("submit-message", "regenerate-message")
NUMERIC_CALL_SETTINGS = {
    "temperature": ("temperature", 0.0, 2.0),
    "topP": ("top_p", 0.0, 1.0),
    "presencePenalty": ("presence_penalty", -2.0, 2.0),
    "frequencyPenalty": ("frequency_penalty", -2.0, 2.0),
}
MAX_URL_CHARS = 16 * 1024 * 1024  # a data: URL; the body limit is the real bound


class BadChatRequest(ValueError):
    """The body is not a chat request we can serve; the message says what is wrong."""


@dataclass(frozen=True)
class FrontendTool:
    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class NewFile:
    """A file a data: URL brought, checked and waiting to be stored with the turn (`threads.chat.attachments`)."""

    id: str
    filename: str
    content_type: str
    data: bytes


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
    new_files: tuple[NewFile, ...] = ()  # set by threads.chat.attachments.check_file_parts


# --- field types ------------------------------------------------------------------------------------------


def _id_field(max_length: int = 128, **kwargs: Any) -> StrictCharField:
    return StrictCharField(
        max_length=max_length,
        validators=[RegexValidator(ID_RE, f"Must be 1 to {max_length} letters, digits or _ - : . characters.")],
        **kwargs,
    )


class PartField(serializers.Field):
    """One UI message part, kept whole (parts carry keys of their own); text and reasoning need their text, a
    file part its `mediaType` and `url` (what `threads.chat.attachments` then resolves)."""

    default_error_messages = {
        "not_object": "Each part must be an object with a string type.",
        "text": "A {kind} part needs a string text.",
        "file": "A file part needs string mediaType and url (and an optional string filename).",
    }

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict) or not isinstance(data.get("type"), str):
            self.fail("not_object")
        kind = data["type"]
        if kind in ("text", "reasoning") and not isinstance(data.get("text"), str):
            self.fail("text", kind=kind)
        if kind == "file":
            strings = (data.get("mediaType"), data.get("url"))
            filename = data.get("filename")
            if not all(isinstance(s, str) and s for s in strings) or not isinstance(filename, str | None):
                self.fail("file")
            if len(data["url"]) > MAX_URL_CHARS or len(data["mediaType"]) > 255 or len(filename or "") > 255:
                self.fail("file")
        return data

    def to_representation(self, value: Any) -> Any:
        return value


class MessageSerializer(serializers.Serializer):
    id = _id_field()
    role = serializers.ChoiceField(
        choices=ROLES, error_messages={"invalid_choice": f"Must be one of {', '.join(ROLES)}."}
    )
    parts = serializers.ListField(
        child=PartField(), allow_empty=True, error_messages={"not_a_list": "Must be a list of parts."}
    )
    metadata = JSONObjectField(
        required=False, allow_null=True, max_bytes=lambda: chat_settings.MAX_BODY_BYTES, setting="CHAT_MAX_BODY_BYTES"
    )

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise serializers.ValidationError("Each message must be an object.")
        value = super().to_internal_value(data)
        return {"id": value["id"], "role": value["role"], "parts": value["parts"], "metadata": value.get("metadata")}


class ToolSerializer(serializers.Serializer):
    description = StrictCharField(required=False, allow_blank=True, allow_null=True)
    parameters = JSONObjectField(
        required=False, max_bytes=lambda: chat_settings.MAX_BODY_BYTES, setting="CHAT_MAX_BODY_BYTES"
    )


class NumberField(serializers.Field):
    """A JSON number (never a boolean or a string) between `low` and `high`."""

    default_error_messages = {"invalid": "Must be a number.", "range": "Must be between {low} and {high}."}

    def __init__(self, *, low: float, high: float, **kwargs: Any) -> None:
        self.low, self.high = low, high
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        if not self.low <= data <= self.high:
            self.fail("range", low=self.low, high=self.high)
        return data

    def to_representation(self, value: Any) -> Any:
        return value


class CallSettingsSerializer(serializers.Serializer):
    temperature = NumberField(low=0.0, high=2.0, required=False, allow_null=True)
    topP = NumberField(low=0.0, high=1.0, required=False, allow_null=True)
    presencePenalty = NumberField(low=-2.0, high=2.0, required=False, allow_null=True)
    frequencyPenalty = NumberField(low=-2.0, high=2.0, required=False, allow_null=True)
    maxTokens = StrictIntegerField(
        min_value=1, required=False, allow_null=True, error_messages={"min_value": "Must be a positive integer."}
    )
    maxOutputTokens = StrictIntegerField(
        min_value=1, required=False, allow_null=True, error_messages={"min_value": "Must be a positive integer."}
    )
    seed = StrictIntegerField(min_value=-(2**63), max_value=2**63 - 1, required=False, allow_null=True)

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise serializers.ValidationError("Must be an object.")
        return super().to_internal_value(data)


class ChatBodySerializer(serializers.Serializer):
    """The fields of the body this service reads; any other field is read past (see the module docstring)."""

    id = _id_field(THREAD_ID_MAX, error_messages={"required": "The chat (thread) id is required."})
    messages = serializers.ListField(
        child=MessageSerializer(), required=False, error_messages={"not_a_list": "Must be a non-empty list."}
    )
    message = MessageSerializer(required=False)
    trigger = serializers.ChoiceField(
        choices=TRIGGERS,
        required=False,
        default="submit-message",
        error_messages={"invalid_choice": f"Must be one of {', '.join(TRIGGERS)}."},
    )
    messageId = _id_field(required=False, allow_null=True)
    system = StrictCharField(required=False, allow_null=True, allow_blank=True)
    tools = serializers.DictField(
        child=ToolSerializer(), required=False, allow_null=True, error_messages={"not_a_dict": "Must be an object."}
    )
    callSettings = CallSettingsSerializer(required=False, allow_null=True)

    def validate_messages(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not value:
            raise serializers.ValidationError("Must be a non-empty list.")
        if len(value) > chat_settings.MAX_MESSAGES:
            raise serializers.ValidationError(f"At most {chat_settings.MAX_MESSAGES} messages (CHAT_MAX_MESSAGES).")
        return value

    def validate_system(self, value: str | None) -> str | None:
        if value is not None and len(value) > chat_settings.MAX_SYSTEM_CHARS:
            limit = chat_settings.MAX_SYSTEM_CHARS
            raise serializers.ValidationError(f"The system prompt is too long (CHAT_MAX_SYSTEM_CHARS: {limit}).")
        return value

    def validate_tools(self, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value and len(value) > 64:
            raise serializers.ValidationError("At most 64 tools.")
        for name in value or {}:
            if TOOL_NAME_RE.match(name) is None:
                raise serializers.ValidationError(f"Invalid tool name {name!r} (1 to 64 letters, digits, _ or -).")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # The AI SDK persistence guide's client sends only its last message, as `message`: the server holds the rest.
        if "messages" not in attrs and "message" not in attrs:
            raise serializers.ValidationError({"messages": ["Must be a non-empty list."]})
        return attrs


def _flatten(detail: Any, path: str = "") -> str:
    """The first error of a DRF error tree, as `messages[0].parts[1]: Message.`."""
    if isinstance(detail, dict):
        key, value = next(iter(detail.items()))
        if isinstance(key, int):
            step = f"{path}[{key}]"
        elif key in ("non_field_errors", "__all__"):
            step = path
        else:
            step = f"{path}.{key}" if path else str(key)
        return _flatten(value, step)
    if isinstance(detail, list):
        return _flatten(detail[0], path) if detail else path
    return f"{path}: {detail}" if path else str(detail)


def _tools(raw: dict[str, Any] | None) -> tuple[FrontendTool, ...]:
    return tuple(
        FrontendTool(
            name=name,
            description=(spec.get("description") or "")[:2000],
            parameters=spec.get("parameters") or {"type": "object", "properties": {}},
        )
        for name, spec in (raw or {}).items()
    )


def _call_settings(raw: dict[str, Any] | None) -> dict[str, Any]:
    raw = raw or {}
    out: dict[str, Any] = {
        name: raw[key] for key, (name, _, _) in NUMERIC_CALL_SETTINGS.items() if raw.get(key) is not None
    }
    max_tokens = raw.get("maxTokens") if raw.get("maxTokens") is not None else raw.get("maxOutputTokens")
    if max_tokens is not None:
        out["max_tokens"] = min(max_tokens, chat_settings.MAX_OUTPUT_TOKENS)
    if raw.get("seed") is not None:
        out["seed"] = raw["seed"]
    return out


_serializers = threading.local()


def _body_serializer() -> ChatBodySerializer:
    """One bound serializer per thread, reused: building DRF's field tree (a deep copy of every declared field)
    cost most of a request's parsing, and `run_validation` keeps no state on the instance."""
    serializer = getattr(_serializers, "body", None)
    if serializer is None:
        serializer = _serializers.body = ChatBodySerializer()
    return serializer


def parse_chat_request(raw_body: bytes) -> ChatRequest:
    try:
        limit = chat_settings.MAX_BODY_BYTES
        body = parse_json_body(raw_body or b"null", max_bytes=limit, setting="CHAT_MAX_BODY_BYTES")
    except ApiError as exc:
        raise BadChatRequest(str(exc.detail)) from exc
    if not isinstance(body, dict):
        raise BadChatRequest("The request body must be a JSON object.")
    if not storable_json(body):
        raise BadChatRequest("Strings must not contain NUL characters or unpaired surrogates.")
    try:
        data = _body_serializer().run_validation(body)
    except serializers.ValidationError as exc:
        raise BadChatRequest(_flatten(exc.detail)) from exc
    only_last = "message" in data and "messages" not in data
    messages = [data["message"]] if only_last else data["messages"]
    if messages[-1]["role"] not in ("user", "assistant"):
        raise BadChatRequest(
            "messages must end with a user message (or an assistant message whose tool calls now have outputs)."
        )
    return ChatRequest(
        thread_id=data["id"],
        messages=messages,
        only_last=only_last,
        trigger=data["trigger"],
        message_id=data.get("messageId"),
        system=data.get("system") or None,
        tools=_tools(data.get("tools")),
        call_settings=_call_settings(data.get("callSettings")),
    )
