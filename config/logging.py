"""Structured logs: one JSON object per line, each carrying the id of the request it belongs to.

`RequestIdMiddleware` takes the caller's `X-Request-ID` (when it looks like an id) or makes one, puts
it in a context variable that every log record of the request picks up, echoes it on the response,
and logs one `request` line with method, path, status, duration and the caller's user/org id. It
never logs headers, cookies or query strings, so a token cannot end up in the logs through it.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest, HttpResponse

from config.middleware import HybridMiddleware

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@-]{1,128}")

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
request_logger = logging.getLogger("chat.request")

# Attributes every LogRecord has; anything else on a record came from `extra=` and is logged as a field.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class RequestIdFilter(logging.Filter):
    """Stamp each record with the current request id (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    """`{"ts", "level", "logger", "message", "request_id", ...extra fields, "exc_info"}` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or request_id_var.get(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRS and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def _incoming_request_id(request: HttpRequest) -> str:
    """The caller's id when it is a plain token (so it cannot forge log lines), else a fresh one."""
    value = request.META.get("HTTP_X_REQUEST_ID", "")
    return value if _VALID_REQUEST_ID.fullmatch(value) else uuid.uuid4().hex


class RequestIdMiddleware(HybridMiddleware):
    """Outermost middleware: request id in, request id out, one log line per request."""

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if self.is_async:
            return self.__acall__(request)
        request_id, token, started = self._begin(request)
        try:
            response = self.get_response(request)
            return self._finish(request, response, request_id, started)
        finally:
            request_id_var.reset(token)

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        request_id, token, started = self._begin(request)
        try:
            response = await self.get_response(request)
            return self._finish(request, response, request_id, started)
        finally:
            request_id_var.reset(token)

    def _begin(self, request: HttpRequest) -> tuple[str, contextvars.Token[str | None], float]:
        request_id = _incoming_request_id(request)
        request.request_id = request_id  # type: ignore[attr-defined]
        return request_id, request_id_var.set(request_id), time.perf_counter()

    def _finish(self, request: HttpRequest, response: HttpResponse, request_id: str, started: float) -> HttpResponse:
        response[REQUEST_ID_HEADER] = request_id
        caller = getattr(request, "caller", None)  # set by whichever face authenticated the request
        request_logger.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "request_id": request_id,
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "user_id": getattr(caller, "user_id", None),
                "org_id": getattr(caller, "org_id", None),
                "auth": getattr(caller, "via", None),
            },
        )
        return response
