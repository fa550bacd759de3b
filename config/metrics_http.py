"""HTTP side of the metrics: a middleware that counts and times every request by route, and `GET /metrics`.

`/metrics` is off unless `METRICS_TOKEN` is set (404 then: fail closed), and answers only
`Authorization: Bearer <METRICS_TOKEN>` (compared in constant time; 401 otherwise).
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable

from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from config import metrics
from config.appsettings import AppSettings
from config.middleware import HybridMiddleware

metrics_settings = AppSettings("METRICS", {"TOKEN": ""})

UNRESOLVED = "unresolved"


def route_of(request: HttpRequest) -> str:
    """The URL pattern that matched (`api/threads/<str:thread_id>`), never the raw path: a bounded label."""
    match = getattr(request, "resolver_match", None)
    route = getattr(match, "route", None)
    return route if route else UNRESOLVED


class MetricsMiddleware(HybridMiddleware):
    """Counts every response by route, method and status and times it; async and sync, no thread hop."""

    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if self.is_async:
            return self.__acall__(request)
        started = time.perf_counter()
        response = self.get_response(request)
        self._observe(request, response, started)
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        response = await self.get_response(request)
        self._observe(request, response, started)
        return response

    @staticmethod
    def _observe(request: HttpRequest, response: HttpResponseBase, started: float) -> None:
        metrics.request_observed(
            route_of(request), request.method or "", response.status_code, time.perf_counter() - started
        )


def _error(code: str, message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": code, "message": message}, status=status)


def _authorized(request: HttpRequest, token: str) -> bool:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(presented.strip().encode(), token.encode())


@csrf_exempt  # bearer token only, no cookies: nothing to forge
def metrics_view(request: HttpRequest) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        response = _error("method_not_allowed", "Use GET.", 405)
        response["Allow"] = "GET, HEAD"
        return response
    token = metrics_settings.TOKEN
    if not token:
        return _error("not_found", "Metrics are disabled: set METRICS_TOKEN to enable /metrics.", 404)
    if not _authorized(request, token):
        response = _error("metrics_unauthorized", "Send Authorization: Bearer <METRICS_TOKEN>.", 401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    response = HttpResponse(metrics.exposition(), content_type=CONTENT_TYPE_PLAIN_0_0_4)
    response["Cache-Control"] = "no-store"
    return response
