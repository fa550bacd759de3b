"""The one request-validation layer: body parsing and the field types every face's serializers use.

A rule added here holds on `/api`, `/v1` and `/api/chat` alike:
- bodies: a size cap before reading, a nesting-depth cap before parsing, strict JSON (no NaN/Infinity);
- strings: no NUL characters or unpaired surrogates anywhere (PostgreSQL cannot store them), bounded lengths;
- timestamps: ISO 8601 with a zone, inside a range both Python and PostgreSQL represent after conversion
  to UTC (a value that cannot be read back must never be stored);
- JSON objects: bounded by their stored size; integers: bounded, never booleans.
Field errors are DRF `ValidationError`s, rendered as `{"error": "invalid_request", "message": "field: ..."}`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.utils.dateparse import parse_datetime
from rest_framework import serializers
from rest_framework.negotiation import BaseContentNegotiation, DefaultContentNegotiation
from rest_framework.parsers import JSONParser
from rest_framework.request import Request

from config.errors import ApiError

MAX_JSON_DEPTH = 32
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_BRACKET = re.compile(rb"[\[\]{}]")


def json_size(value: Any) -> int:
    """Bytes of the value as compact UTF-8 JSON: size limits are about what gets stored."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def storable_text(text: str) -> bool:
    """PostgreSQL refuses NUL characters and unpaired surrogates; refuse them up front on every database."""
    if "\x00" in text:
        return False
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def storable_json(value: Any) -> bool:
    """Every key and string in a parsed JSON value is storable text (iterative: no recursion limit)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not storable_text(item):
                return False
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True


def json_depth(raw: bytes) -> int:
    """The deepest bracket nesting of a JSON text, found without parsing it (strings are skipped)."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_JSON_STRING.sub(b'""', raw)):
        if match.group() in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json_body(raw: bytes, *, max_bytes: int, setting: str) -> Any:
    """A request body as JSON: 413 past `max_bytes`, 400 `invalid_json` for anything that is not strict JSON
    or nests deeper than MAX_JSON_DEPTH (checked before the parser does any work)."""
    if len(raw) > max_bytes:
        raise ApiError("payload_too_large", f"The request body is larger than {max_bytes} bytes ({setting}).", 413)
    if json_depth(raw) > MAX_JSON_DEPTH:
        raise ApiError("invalid_json", f"The request body nests deeper than {MAX_JSON_DEPTH} levels.")
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise ApiError("invalid_json", f"The request body is not valid JSON: {exc.__class__.__name__}.") from exc


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser with the project's body rules; the size cap comes from the view (`max_body_bytes`)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict[str, Any] | None = None) -> Any:
        context = parser_context or {}
        view = context.get("view")
        limit, setting = getattr(view, "max_body", (1024 * 1024, "THREADS_MAX_BODY_BYTES"))
        request = context.get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        if declared and declared.isdigit() and int(declared) > limit:
            raise ApiError("payload_too_large", f"The request body is larger than {limit} bytes ({setting}).", 413)
        raw = stream.read(limit + 1) if stream is not None else b""
        return parse_json_body(raw, max_bytes=limit, setting=setting)


class JsonAlways(BaseContentNegotiation):
    """Bodies are JSON whatever `Accept` says (the cloud client's title stream sends `Accept: text/plain`)."""

    def select_parser(self, request: Request, parsers: list[Any]) -> Any:
        return DefaultContentNegotiation().select_parser(request, parsers)

    def select_renderer(self, request: Request, renderers: list[Any], format_suffix: str | None = None) -> Any:
        return renderers[0], renderers[0].media_type


# --- field types ------------------------------------------------------------------------------------------


class StrictCharField(serializers.CharField):
    """A string and only a string (DRF's CharField would turn 12 into "12"), storable, untrimmed."""

    default_error_messages = {
        "invalid": "Must be a string.",
        "unstorable": "Must not contain NUL characters or unpaired surrogates.",
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        if not storable_text(data):
            self.fail("unstorable")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """`true` or `false` only (DRF's BooleanField would accept "yes" and 1)."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer (not a boolean, not a string), within `min_value`..`max_value` (default 0..2^31-1)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_value", 2**31 - 1)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int | float) or data != int(data):
            self.fail("invalid")
        return super().to_internal_value(int(data))


class JSONObjectField(serializers.JSONField):
    """A JSON object of storable strings, no larger than `max_bytes()` as stored JSON."""

    default_error_messages = {
        "not_object": "Expected a JSON object.",
        "unstorable": "Strings must not contain NUL characters or unpaired surrogates.",
        "too_large": "Too large: {size} bytes as JSON, the limit is {limit} ({setting}).",
    }

    def __init__(self, *, max_bytes: Callable[[], int], setting: str, **kwargs: Any) -> None:
        self.max_bytes = max_bytes
        self.setting = setting
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            self.fail("not_object")
        if not storable_json(data):
            self.fail("unstorable")
        limit, size = self.max_bytes(), json_size(data)
        if size > limit:
            self.fail("too_large", size=size, limit=limit, setting=self.setting)
        return data


class StorableJSONListField(serializers.JSONField):
    """A JSON list of at most `max_items` items whose strings are storable."""

    default_error_messages = {
        "not_list": "Expected a list.",
        "too_long": "At most {max_items} items.",
        "unstorable": "Strings must not contain NUL characters or unpaired surrogates.",
    }

    def __init__(self, *, max_items: int, **kwargs: Any) -> None:
        self.max_items = max_items
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> list[Any]:
        if not isinstance(data, list):
            self.fail("not_list")
        if len(data) > self.max_items:
            self.fail("too_long", max_items=self.max_items)
        if not storable_json(data):
            self.fail("unstorable")
        return data


def parse_timestamp(value: Any) -> datetime | None:
    """An ISO 8601 timestamp with a zone inside EARLIEST..LATEST, or None."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        parsed = parse_datetime(value)
    except ValueError:
        return None
    if parsed is None or parsed.tzinfo is None:
        return None
    try:
        in_utc = parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None
    return in_utc if EARLIEST <= in_utc < LATEST else None


def format_timestamp(value: datetime) -> str:
    """`YYYY-MM-DDTHH:MM:SS.mmmZ`, what `Date#toISOString()` prints and the cloud client's decoders accept."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


class TimestampField(serializers.Field):
    """ISO 8601 with a time zone, between 1900-01-01 and 9000-01-01 UTC; stored as UTC."""

    default_error_messages = {
        "invalid": "Must be an ISO 8601 timestamp with a time zone, between 1900-01-01 and 9000-01-01 UTC.",
    }

    def to_internal_value(self, data: Any) -> datetime:
        parsed = parse_timestamp(data)
        if parsed is None:
            self.fail("invalid")
        return parsed

    def to_representation(self, value: datetime) -> str:
        return value.isoformat()


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not declare, naming them; the body must be a JSON object."""

    default_error_messages = {"invalid": "The request body must be a JSON object."}

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


def validated(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    """The validated data of `data` (an empty body reads as `{}`), or a 400 naming the fields."""
    serializer = serializer_class(data={} if data is None or data == "" else data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
