"""The Assistant Cloud wire shapes: exactly the keys and formats the client's strict decoders accept.

Timestamps are `YYYY-MM-DDTHH:MM:SS.mmmZ` (what `Date#toISOString()` prints); nullable keys are always
present. Request bodies are checked by hand so every refusal names the field that was wrong.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.utils.dateparse import parse_datetime
from rest_framework import status
from rest_framework.exceptions import APIException

from chatauth.caller import Workspace
from chatauth.cloud.conf import cloud_settings
from chatauth.cloud.tokens import workspace_id_of
from threads.models import Message, Thread


class CloudError(APIException):
    """An API error with its own code: rendered as `{error: code, message}` by the project's handler."""

    def __init__(self, code: str, message: str, status_code: int = status.HTTP_400_BAD_REQUEST) -> None:
        super().__init__(detail=message, code=code)
        self.status_code = status_code


def invalid(message: str) -> CloudError:
    return CloudError("invalid_request", message)


def not_found(what: str = "Thread") -> CloudError:
    return CloudError("not_found", f"{what} not found.", status.HTTP_404_NOT_FOUND)


def timestamp(value: datetime) -> str:
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def thread_json(thread: Thread) -> dict[str, Any]:
    return {
        "id": thread.id,
        "project_id": cloud_settings.PROJECT_ID,
        "workspace_id": workspace_id_of(Workspace(user_id=thread.user_id, org_id=thread.org_id)),
        "title": thread.title,
        "last_message_at": timestamp(thread.last_message_at),
        "created_at": timestamp(thread.created_at),
        "updated_at": timestamp(thread.updated_at),
        "is_archived": thread.is_archived,
        "external_id": thread.external_id,
        "metadata": thread.metadata if isinstance(thread.metadata, dict) else {},
    }


def message_json(message: Message) -> dict[str, Any]:
    return {
        "id": message.message_id,
        "parent_id": message.parent.message_id if message.parent_id else None,
        "height": message.height,
        "created_at": timestamp(message.created_at),
        "updated_at": timestamp(message.updated_at),
        "format": message.format,
        "content": message.content,
        "external_id": None,
    }


# --- request bodies -------------------------------------------------------------------------------------------


def body_object(data: Any) -> dict[str, Any]:
    if data is None or data == "":
        return {}
    if not isinstance(data, dict):
        raise invalid("The request body must be a JSON object.")
    return data


def reject_unknown(body: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise invalid(f"Unknown field(s): {', '.join(unknown)}.")


def opt_string(body: dict[str, Any], name: str, *, max_length: int, nullable: bool = True) -> str | None:
    value = body.get(name)
    if value is None:
        if name in body and not nullable:
            raise invalid(f"{name}: may not be null.")
        return None
    if not isinstance(value, str):
        raise invalid(f"{name}: must be a string.")
    if len(value) > max_length:
        raise invalid(f"{name}: at most {max_length} characters.")
    return value


def req_string(body: dict[str, Any], name: str, *, max_length: int) -> str:
    value = opt_string(body, name, max_length=max_length, nullable=False)
    if not value:
        raise invalid(f"{name}: required, a non-empty string.")
    return value


def opt_bool(body: dict[str, Any], name: str) -> bool | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise invalid(f"{name}: must be true or false.")
    return value


def opt_object(body: dict[str, Any], name: str) -> dict[str, Any] | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid(f"{name}: must be a JSON object.")
    return value


def opt_timestamp(body: dict[str, Any], name: str) -> datetime | None:
    value = body.get(name)
    if value is None:
        return None
    parsed = None
    if isinstance(value, str) and len(value) <= 40:
        try:
            parsed = parse_datetime(value)
        except ValueError:
            parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise invalid(f"{name}: must be an ISO 8601 timestamp with a time zone.")
    return parsed


def opt_count(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or value != int(value):
        raise invalid(f"{name}: must be a non-negative integer.")
    if value > 2**31 - 1:
        raise invalid(f"{name}: too large.")
    return int(value)


def query_limit(params: Any, *, default: int, maximum: int) -> int:
    raw = params.get("limit")
    if raw in (None, ""):
        return default
    try:
        limit = int(raw)
    except ValueError:
        raise invalid("limit: must be an integer.") from None
    if not 1 <= limit <= maximum:
        raise invalid(f"limit: must be between 1 and {maximum}.")
    return limit


def query_bool(params: Any, name: str) -> bool:
    raw = params.get(name)
    if raw in (None, "", "false"):
        return False
    if raw == "true":
        return True
    raise invalid(f"{name}: must be 'true' or 'false'.")
