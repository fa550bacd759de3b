"""CORS for front ends on other origins calling `/api`, `/v1` (and `/dev/session` in development): one list, one rule.

- Origins: `CORS_ALLOWED_ORIGINS` (`CLOUD_CORS_ALLOWED_ORIGINS` is its deprecated alias, read when the new name is
  unset), compared with `config.origins.normalize_origin`, the function the cookie CSRF check uses too.
- Credentials (`Access-Control-Allow-Credentials: true`) only on `/api` (the only face that reads the `__session`
  cookie) and only for origins that are also Clerk authorized parties (`CLERK_AUTHORIZED_PARTIES`): those are the
  origins whose cookie a state-changing request may carry. `/v1` never uses cookies.
- Request headers: Authorization, Content-Type, Accept and any `Aui-*`; the `Authorization` response header (the
  token exchange of provider JWTs) is exposed; a preflight is cached for `CLOUD_CORS_MAX_AGE_SECONDS`.

A preflight is answered here, before sessions, authentication or routing run, so `OPTIONS /api/chat` is a 204 and
never a 405 or 401. A refused origin gets a JSON 403 to its preflight and no CORS headers on other responses.
"""

from __future__ import annotations

from collections.abc import Awaitable

from django.http import HttpRequest, HttpResponse

from chatauth.clerk.conf import clerk_settings
from chatauth.cloud.conf import cloud_settings
from config.errors import json_error
from config.middleware import HybridMiddleware
from config.origins import origin_in

ALLOWED_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
FIXED_HEADERS = frozenset({"authorization", "content-type", "accept"})
COOKIE_PATH_PREFIX = "/api/"


def header_allowed(name: str) -> bool:
    lowered = name.strip().lower()
    return lowered in FIXED_HEADERS or lowered.startswith("aui-")


def _add_vary(response: HttpResponse, *names: str) -> None:
    present = [v.strip() for v in response.get("Vary", "").split(",") if v.strip()]
    lowered = {v.lower() for v in present}
    response["Vary"] = ", ".join(present + [n for n in names if n.lower() not in lowered])


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
        return request.path.startswith(tuple(cloud_settings.CORS_PATH_PREFIXES))

    @staticmethod
    def _allowed_origin(request: HttpRequest) -> str | None:
        origin = request.META.get("HTTP_ORIGIN", "")
        return origin if origin_in(origin, cloud_settings.CORS_ALLOWED_ORIGINS) else None

    @staticmethod
    def _credentials(request: HttpRequest, origin: str) -> bool:
        """Cookies cross origins only to `/api`, and only from a Clerk authorized party."""
        return request.path.startswith(COOKIE_PATH_PREFIX) and origin_in(origin, clerk_settings.AUTHORIZED_PARTIES)

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
        if self._credentials(request, origin):
            response["Access-Control-Allow-Credentials"] = "true"
        response["Vary"] = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
        return response

    def _decorate(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if not self._applies(request):
            return response
        _add_vary(response, "Origin")
        origin = self._allowed_origin(request)
        if origin is not None:
            response["Access-Control-Allow-Origin"] = origin
            response["Access-Control-Expose-Headers"] = "Authorization"
            if self._credentials(request, origin):
                response["Access-Control-Allow-Credentials"] = "true"
        return response
