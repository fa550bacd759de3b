"""One JSON error shape for every API response: `{"error": code, "message": text}`."""

from __future__ import annotations

from typing import Any

from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler


class ApiError(exceptions.APIException):
    """An API error with its own code and status, rendered as `{"error": code, "message": message}`."""

    def __init__(self, code: str, message: str, status_code: int = status.HTTP_400_BAD_REQUEST) -> None:
        super().__init__(detail=message, code=code)
        self.status_code = status_code


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": code, "message": message, **extra}


def json_error(code: str, message: str, status_code: int, **extra: Any) -> JsonResponse:
    return JsonResponse(error_body(code, message, **extra), status=status_code)


def _flatten(detail: Any, prefix: str = "") -> list[str]:
    if isinstance(detail, dict):
        out: list[str] = []
        for key, value in detail.items():
            name = key if key != "non_field_errors" else ""
            out += _flatten(value, f"{prefix}.{name}" if prefix and name else (name or prefix))
        return out
    if isinstance(detail, list):
        out = []
        for i, value in enumerate(detail):
            sub = f"{prefix}[{i}]" if isinstance(value, dict | list) else prefix
            out += _flatten(value, sub)
        return out
    return [f"{prefix}: {detail}" if prefix else str(detail)]


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF errors as `{error, message}`; validation errors also keep their per-field `details`."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        body = error_body("invalid_request", "; ".join(_flatten(exc.detail)), details=exc.detail)
    elif isinstance(exc, exceptions.NotAuthenticated):
        body = error_body("unauthorized", str(exc.detail))
    elif isinstance(exc, exceptions.AuthenticationFailed):
        # The code is the credential's reason (Clerk's codes: token-expired, ...); DRF's default says nothing.
        code = exc.get_codes()
        reason = code if isinstance(code, str) and code != "authentication_failed" else "unauthorized"
        body = error_body(reason, str(exc.detail))
    elif isinstance(exc, exceptions.APIException):
        code = exc.get_codes() if isinstance(exc.get_codes(), str) else "error"
        body = error_body(str(code), str(exc.detail))
    else:  # pragma: no cover - DRF only handles APIException subclasses
        body = error_body("error", "Request failed.")
    response.data = body
    if response.status_code == status.HTTP_401_UNAUTHORIZED and "WWW-Authenticate" not in response:
        response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response
