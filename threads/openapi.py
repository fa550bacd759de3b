"""The OpenAPI document's parts that views cannot say themselves.

- Response shapes of `/v1` (serializers used for documentation only; the views build the wire JSON by hand in
  `threads.cloud.serializers`), and the `{error, message}` body every error has.
- `add_plain_views`, a drf-spectacular postprocessing hook: `/api/chat` (AI SDK request body, a `text/event-stream`
  of UI message chunks), `/api/chat/{thread_id}/stream` (resume and stop), `/api/threads/{thread_id}/title`,
  `/healthz` and `/readyz` are async or plain Django views that drf-spectacular does not see, so they are described
  here, next to nothing they could drift from but this file. `tests/threads/test_openapi.py` checks that every URL
  pattern of the faces appears in the document.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers


class TimestampFieldSchema(OpenApiSerializerFieldExtension):
    """`config.validation.TimestampField`: ISO 8601 with a zone (between 1900 and 9000)."""

    target_class = "config.validation.TimestampField"

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        return {"type": "string", "format": "date-time"}


# --- shared ----------------------------------------------------------------------------------------------------

ErrorBody = inline_serializer(
    "Error",
    {
        "error": serializers.CharField(help_text="A stable, machine-readable code (`not_found`, `invalid_json`, ...)."),
        "message": serializers.CharField(help_text="One sentence for a person."),
        "details": serializers.DictField(required=False, help_text="Validation errors only: the fields' errors."),
    },
)


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    described = {
        400: "Invalid request: the message names the fields.",
        401: "No credential, or a refused one.",
        403: "The credential may not do this.",
        404: "No such thread or message in the caller's workspace.",
        409: "Conflict.",
        413: "The body is too large.",
        429: "Rate limited: see `Retry-After`.",
    }
    return {code: OpenApiResponse(ErrorBody, description=described.get(code, "Error.")) for code in codes}


# --- /v1 responses ---------------------------------------------------------------------------------------------


class CloudThread(serializers.Serializer):
    id = serializers.CharField()
    project_id = serializers.CharField()
    workspace_id = serializers.CharField()
    title = serializers.CharField()
    last_message_at = serializers.DateTimeField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    is_archived = serializers.BooleanField()
    external_id = serializers.CharField(allow_null=True)
    metadata = serializers.DictField()


class CloudMessage(serializers.Serializer):
    id = serializers.CharField()
    parent_id = serializers.CharField(allow_null=True)
    height = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    format = serializers.CharField()
    content = serializers.DictField()
    external_id = serializers.CharField(allow_null=True)


CloudThreadList = inline_serializer("CloudThreadList", {"threads": CloudThread(many=True)})
CloudThreadEnvelope = inline_serializer("CloudThreadEnvelope", {"thread": CloudThread()})
CloudThreadCreated = inline_serializer("CloudThreadCreated", {"thread_id": serializers.CharField()})
CloudThreadsMoved = inline_serializer("CloudThreadsMoved", {"moved": serializers.IntegerField()})
CloudMessageList = inline_serializer("CloudMessageList", {"messages": CloudMessage(many=True)})
CloudMessageCreated = inline_serializer("CloudMessageCreated", {"message_id": serializers.CharField()})
CloudFeedback = inline_serializer(
    "CloudFeedback",
    {
        "feedback_id": serializers.CharField(),
        "type": serializers.ChoiceField(choices=("positive", "negative")),
        "comment": serializers.CharField(allow_null=True),
    },
)
CloudRunCreated = inline_serializer("CloudRunCreated", {"run_id": serializers.CharField()})
CloudEventsAccepted = inline_serializer("CloudEventsAccepted", {"accepted": serializers.IntegerField()})
TITLE_STREAM = OpenApiResponse(
    response={"type": "string"}, description="`text/plain`: the new title, streamed in chunks, saved on the thread."
)

# --- the plain and async views ---------------------------------------------------------------------------------

_ERROR_REF = {"$ref": "#/components/schemas/Error"}
_JSON_ERROR = {"content": {"application/json": {"schema": _ERROR_REF}}}
_THREAD_ID = {"name": "thread_id", "in": "path", "required": True, "schema": {"type": "string"}}
_SECURITY = [{"clerkSession": []}]

_UI_MESSAGE = {
    "type": "object",
    "required": ["role", "parts"],
    "properties": {
        "id": {"type": "string", "maxLength": 128},
        "role": {"type": "string", "enum": ["system", "user", "assistant"]},
        "parts": {
            "type": "array",
            "items": {"type": "object", "additionalProperties": True, "required": ["type"]},
            "description": "AI SDK UI message parts (`{type: 'text', text}`, tool parts, ...).",
        },
        "metadata": {"type": "object", "additionalProperties": True},
    },
}
_CHAT_REQUEST = {
    "type": "object",
    "required": ["messages"],
    "properties": {
        "id": {"type": "string", "description": "The thread id (created on first use)."},
        "messages": {
            "type": "array",
            "items": _UI_MESSAGE,
            "description": "The new user message (send only the last one: the server has the history), or the "
            "whole conversation.",
        },
        "trigger": {"type": "string", "enum": ["submit-message", "regenerate-message"]},
        "messageId": {"type": "string", "description": "With `regenerate-message`: the reply to replace."},
        "system": {"type": "string", "description": "Appended to the server's system prompt."},
        "tools": {"type": "object", "additionalProperties": True, "description": "Front-end tools (no `execute`)."},
        "callSettings": {"type": "object", "additionalProperties": True, "description": "temperature, maxTokens, ..."},
    },
    "additionalProperties": True,
}
_EVENT_STREAM = {
    "description": "The AI SDK UI message stream (`x-vercel-ai-ui-message-stream: v1`): server-sent events, each "
    "`data: {json chunk}` (`start`, `text-start`, `text-delta`, `text-end`, tool chunks, `finish`, `error`), ended by "
    "`data: [DONE]`; `: keep-alive` comments in silences.",
    "headers": {"x-vercel-ai-ui-message-stream": {"schema": {"type": "string", "enum": ["v1"]}}},
    "content": {"text/event-stream": {"schema": {"type": "string"}}},
}


def _operation(operation_id: str, summary: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    if operation_id.startswith(("chat_stream", "threads_title")):
        extra.setdefault("parameters", [_THREAD_ID])
    return {"operationId": operation_id, "summary": summary, "responses": responses, **extra}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, **_JSON_ERROR}


_SIGNED = ("ws", "expires", "signature")
_BYTES = {"type": "string", "format": "binary"}
_SIGNED_OUT = _error("Signed out, or a refused session token.")
_NOT_FOUND = _error("No such thread in the caller's workspace.")
_LIMITED = _error("Rate limited (requests per window or concurrent streams): see `Retry-After`.")
_CHECKS = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": ["ready", "unavailable"]},
        "checks": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "properties": {"ok": {"type": "boolean"}, "detail": {"type": "string"}},
            },
        },
    },
}

PLAIN_PATHS: dict[str, dict[str, Any]] = {
    "/api/chat": {
        "post": _operation(
            "chat_create",
            "Send a message and stream the reply (AI SDK `DefaultChatTransport`)",
            {
                "200": _EVENT_STREAM,
                "400": _error("Invalid chat request (or `invalid_json`)."),
                "401": _SIGNED_OUT,
                "404": _NOT_FOUND,
                "409": _error("A reply is still being generated in this thread (`generation_in_progress`)."),
                "429": _LIMITED,
            },
            tags=["chat"],
            security=_SECURITY,
            requestBody={"required": True, "content": {"application/json": {"schema": _CHAT_REQUEST}}},
        )
    },
    "/api/chat/{thread_id}/stream": {
        "get": _operation(
            "chat_stream_resume",
            "Resume the thread's running generation from its start (`resume: true` of `useChat`)",
            {
                "200": _EVENT_STREAM,
                "204": {"description": "No generation is running."},
                "401": _SIGNED_OUT,
                "404": _NOT_FOUND,
            },
            tags=["chat"],
            security=_SECURITY,
        ),
        "delete": _operation(
            "chat_stream_stop",
            "Stop the thread's running generation (the partial reply is kept)",
            {
                "200": {
                    "description": "Stop requested.",
                    "content": {
                        "application/json": {
                            "schema": {"type": "object", "properties": {"stopped": {"type": "string"}}}
                        }
                    },
                },
                "204": {"description": "Nothing was running (or generations are not resumable here)."},
                "401": _SIGNED_OUT,
                "404": _NOT_FOUND,
            },
            tags=["chat"],
            security=_SECURITY,
        ),
    },
    "/api/threads/{thread_id}/title": {
        "post": _operation(
            "threads_title_generate",
            "Title the thread from its first user message",
            {
                "200": {
                    "description": "The new title, saved.",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {"id": {"type": "string"}, "title": {"type": "string"}},
                            }
                        }
                    },
                },
                "400": _error("The thread has no user message."),
                "401": _SIGNED_OUT,
                "404": _NOT_FOUND,
                "429": _LIMITED,
            },
            tags=["chat"],
            security=_SECURITY,
        ),
    },
    "/dev/session": {
        "post": _operation(
            "dev_session",
            "Development issuer only (404 otherwise): a session token for `{user, org?, role?}`",
            {
                "200": {
                    "description": "`{token}` (and the `__session` cookie).",
                    "content": {
                        "application/json": {"schema": {"type": "object", "properties": {"token": {"type": "string"}}}}
                    },
                },
                "400": _error("Invalid body."),
                "404": _error("The development issuer is off."),
            },
            tags=["development"],
            security=[],
            requestBody={
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["user"],
                            "properties": {
                                "user": {"type": "string"},
                                "org": {"type": "string", "nullable": True},
                                "role": {"type": "string"},
                            },
                        }
                    }
                },
            },
        )
    },
    "/webhooks/clerk": {
        "post": _operation(
            "clerk_webhook",
            "Clerk (Svix-signed) deletion events: user, organization, membership",
            {
                "200": {
                    "description": "Handled (or `{status: duplicate}`).",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                "400": _error("Bad signature, timestamp or headers."),
                "503": _error("CLERK_WEBHOOK_SIGNING_SECRET is not set."),
            },
            tags=["operations"],
            security=[],
            requestBody={"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
        )
    },
    "/v1/files/blob/{file_id}": {
        method: _operation(
            f"v1_files_blob_{method}",
            "The signed URL of an attachment (local store): its bytes; the signature is the credential",
            {
                **(
                    {"200": {"description": "The bytes.", "content": {"application/octet-stream": {"schema": _BYTES}}}}
                    if method == "get"
                    else {"204": {"description": "Stored."}}
                ),
                "403": _error("The signature is missing, tampered with, expired, or for another method."),
                "404": _error("No such file."),
                **({"409": _error("Already uploaded."), "413": _error("Too large.")} if method == "put" else {}),
            },
            tags=["v1"],
            security=[],
            parameters=[
                {"name": "file_id", "in": "path", "required": True, "schema": {"type": "string"}},
                *({"name": n, "in": "query", "required": True, "schema": {"type": "string"}} for n in _SIGNED),
            ],
        )
        for method in ("get", "put")
    },
    "/v1/files/pdf-to-images": {
        "post": _operation(
            "v1_files_pdf_to_images",
            "Deprecated in the client; 404, as on the hosted service",
            {"404": _error("Not offered.")},
            tags=["v1"],
            deprecated=True,
        )
    },
    "/healthz": {
        "get": _operation(
            "healthz",
            "Liveness: the process answers (touches nothing)",
            {"200": {"description": "Alive.", "content": {"application/json": {"schema": {"type": "object"}}}}},
            tags=["operations"],
            security=[],
        )
    },
    "/readyz": {
        "get": _operation(
            "readyz",
            "Readiness: database, cache, session-token keys, model provider",
            {
                "200": {"description": "Ready.", "content": {"application/json": {"schema": _CHECKS}}},
                "503": {
                    "description": "A check failed: its detail says why.",
                    "content": {"application/json": {"schema": _CHECKS}},
                },
            },
            tags=["operations"],
            security=[],
        )
    },
}


def add_plain_views(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: the views it cannot see, and the shared Error component."""
    result.setdefault("paths", {}).update(PLAIN_PATHS)
    result["paths"] = dict(sorted(result["paths"].items()))
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault(
        "Error",
        {
            "type": "object",
            "required": ["error", "message"],
            "properties": {
                "error": {"type": "string"},
                "message": {"type": "string"},
                "details": {"type": "object", "additionalProperties": True},
            },
        },
    )
    return result
