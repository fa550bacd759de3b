"""CORS for front ends that call /v1 directly: configured origins only, bearer tokens only (no cookies).

Allowed request headers: Authorization, Content-Type, Accept and any `Aui-*`; the `Authorization`
response header (the token exchange of provider JWTs) is exposed. A preflight is answered here, before
authentication runs. Credentials mode is never enabled: /v1 does not use cookies.
"""

from __future__ import annotations

from collections.abc import Awaitable
from urllib.parse import urlsplit

from django.http import HttpRequest, HttpResponse

from chatauth.cloud.conf import cloud_settings
from config.errors import json_error
from config.middleware import HybridMiddleware

ALLOWED_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
FIXED_HEADERS = frozenset({"authorization", "content-type", "accept"})


def _normalize(origin: str) -> str:
    parts = urlsplit(origin.strip())
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else ""


def header_allowed(name: str) -> bool:
    lowered = name.strip().lower()
    return lowered in FIXED_HEADERS or lowered.startswith("aui-")


class CorsMiddleware(HybridMiddleware):
    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if self.is_async:
            return self.__acall__(request)
        early = self._preflight(request)
        if early is not None:
            return early
        return self._decorate(request, self.get_response(request))

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        early = self._preflight(request)
        if early is not None:
            return early
        return self._decorate(request, await self.get_response(request))

    @staticmethod
    def _applies(request: HttpRequest) -> bool:
        return any(request.path.startswith(p) for p in cloud_settings.CORS_PATH_PREFIXES)

    @staticmethod
    def _allowed_origin(request: HttpRequest) -> str | None:
        origin = request.META.get("HTTP_ORIGIN", "")
        if not origin:
            return None
        allowed = {_normalize(o) for o in cloud_settings.CORS_ALLOWED_ORIGINS}
        return origin if _normalize(origin) in allowed and _normalize(origin) else None

    def _preflight(self, request: HttpRequest) -> HttpResponse | None:
        if request.method != "OPTIONS" or "HTTP_ACCESS_CONTROL_REQUEST_METHOD" not in request.META:
            return None
        if not self._applies(request):
            return None
        origin = self._allowed_origin(request)
        if origin is None:
            response = json_error("cors_origin_not_allowed", "This origin may not call the API.", 403)
            response["Vary"] = "Origin"
            return response
        requested = [h for h in request.META.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS", "").split(",") if h.strip()]
        refused = [h.strip() for h in requested if not header_allowed(h)]
        if refused:
            response = json_error("cors_header_not_allowed", f"Headers not allowed: {', '.join(refused)}.", 403)
            response["Vary"] = "Origin"
            return response
        response = HttpResponse(status=204)
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Allow-Methods"] = ALLOWED_METHODS
        response["Access-Control-Allow-Headers"] = ", ".join(h.strip().lower() for h in requested) or "authorization"
        response["Access-Control-Max-Age"] = str(int(cloud_settings.CORS_MAX_AGE_SECONDS))
        response["Vary"] = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
        return response

    def _decorate(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if not self._applies(request):
            return response
        vary = response.get("Vary")
        response["Vary"] = f"{vary}, Origin" if vary and "origin" not in vary.lower() else (vary or "Origin")
        origin = self._allowed_origin(request)
        if origin is not None:
            response["Access-Control-Allow-Origin"] = origin
            response["Access-Control-Expose-Headers"] = "Authorization"
        return response
