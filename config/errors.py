"""One JSON error shape for every API response: `{"error": code, "message": text}`."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from config.messages import SIGN_IN_REQUIRED


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


def _signed_out_message(exc: exceptions.NotAuthenticated, view: Any) -> str:
    """DRF raises a bare `NotAuthenticated` for a caller with no credentials; say what the view's permission
    says (`IsSignedIn`: `SIGN_IN_REQUIRED`, the message `/api/chat` gives too) rather than DRF's default."""
    if str(exc.detail) != str(exceptions.NotAuthenticated.default_detail):
        return str(exc.detail)
    for permission in getattr(view, "permission_classes", ()):
        message = getattr(permission, "message", None)
        if isinstance(message, str):
            return message
    return SIGN_IN_REQUIRED


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
        body = error_body("unauthorized", _signed_out_message(exc, context.get("view")))
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


# --- one shape for every error, outside DRF too -------------------------------------------------------------

# Paths that are always JSON; elsewhere a browser (Accept: text/html) keeps Django's HTML pages.
JSON_PATH_PREFIXES = ("/api/", "/v1/", "/dev/", "/webhooks/", "/healthz", "/readyz", "/metrics")
HTML_PATH_PREFIXES = ("/admin/",)

STATUS_ERRORS: dict[int, tuple[str, str]] = {
    400: ("bad_request", "The request is malformed."),
    401: ("unauthorized", SIGN_IN_REQUIRED),
    403: ("forbidden", "This request is not allowed."),
    404: ("not_found", "No such endpoint."),
    405: ("method_not_allowed", "This method is not allowed here."),
    406: ("not_acceptable", "No acceptable representation."),
    410: ("gone", "This resource is gone."),
    413: ("payload_too_large", "The request body is too large."),
    415: ("unsupported_media_type", "Send a JSON body (Content-Type: application/json)."),
    429: ("rate_limited", "Too many requests: retry later."),
    500: ("server_error", "The server failed to answer this request; it has been logged."),
    502: ("bad_gateway", "An upstream service failed."),
    503: ("unavailable", "The service is unavailable right now: retry in a few seconds."),
}


def wants_json(request: HttpRequest) -> bool:
    """API paths always; the admin never; anything else unless the caller is a browser asking for HTML."""
    path = request.path
    if path.startswith(HTML_PATH_PREFIXES):
        return False
    if path.startswith(JSON_PATH_PREFIXES):
        return True
    return "text/html" not in request.META.get("HTTP_ACCEPT", "")


def status_error(status_code: int, *, allow: str = "") -> JsonResponse:
    code, message = STATUS_ERRORS.get(
        status_code, ("server_error" if status_code >= 500 else "error", f"The request failed ({status_code}).")
    )
    if status_code == 405 and allow:
        message = f"This method is not allowed here; use {allow}."
    return json_error(code, message, status_code)


def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return status_error(400) if wants_json(request) else defaults.bad_request(request, exception)


def handler403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return status_error(403) if wants_json(request) else defaults.permission_denied(request, exception)


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return status_error(404) if wants_json(request) else defaults.page_not_found(request, exception)


def handler500(request: HttpRequest) -> HttpResponse:
    return status_error(500) if wants_json(request) else defaults.server_error(request)


# Response headers kept when a non-JSON error is rewritten (everything but the body's own).
_BODY_HEADERS = {"content-type", "content-length", "content-encoding", "content-language"}


def as_json_error(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """A 4xx/5xx response that is not already JSON (`HttpResponseNotAllowed`, Django's CSRF page, a bare 404)
    becomes `{error, message}` on the API paths, keeping `Allow`, `Retry-After`, `WWW-Authenticate` and the rest."""
    if response.status_code < 400 or response.streaming or not request.path.startswith(JSON_PATH_PREFIXES):
        return response  # elsewhere (the browser app's page) an error page may be meant as HTML
    if response.get("Content-Type", "").startswith("application/json"):
        return response
    replacement = status_error(response.status_code, allow=response.get("Allow", ""))
    for name, value in response.items():
        if name.lower() not in _BODY_HEADERS:
            replacement[name] = value
    replacement.cookies = response.cookies
    return replacement
