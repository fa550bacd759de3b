"""`/healthz` (the process answers) and `/readyz` (it can serve: database, cache, session-token keys, a model).

Both are public and say nothing secret: only which check failed and a short reason. A load balancer
should route traffic on `/readyz` and restart on `/healthz`.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from functools import wraps

from django.core.cache import cache
from django.db import connections
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache

from chatauth.jwt import TokenVerificationError
from chatauth.keys import PemKeySource, RemoteJwksSource, session_key_source
from config.errors import json_error
from config.middleware import close_broken_connections
from threads.chat.conf import chat_settings

logger = logging.getLogger(__name__)

Check = tuple[bool, str]


def get_only(view: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    """GET/HEAD only; anything else is a JSON 405, like the rest of the API."""

    @wraps(view)
    def wrapper(request: HttpRequest) -> HttpResponse:
        if request.method not in {"GET", "HEAD"}:
            response = json_error("method_not_allowed", f"{request.method} is not allowed here; use GET.", 405)
            response["Allow"] = "GET, HEAD"
            return response
        return view(request)

    return wrapper


@never_cache
@get_only
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: no dependency is touched, so a database outage does not get every worker restarted."""
    return JsonResponse({"status": "ok"})


def check_database() -> Check:
    try:
        for alias in connections:
            with connections[alias].cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
    except Exception as exc:
        close_broken_connections()
        return False, f"unreachable ({exc.__class__.__name__})"
    return True, "ok"


def check_cache() -> Check:
    key = f"ops:readyz:{secrets.token_hex(8)}"
    try:
        cache.set(key, 1, timeout=10)
        ok = cache.get(key) == 1
        cache.delete(key)
    except Exception as exc:
        return False, f"unreachable ({exc.__class__.__name__})"
    return (True, "ok") if ok else (False, "a value written could not be read back")


def check_session_keys() -> Check:
    """A remote JWKS must be in the shared cache; a cold one is loaded now, so a fresh deployment gets ready."""
    try:
        source = session_key_source()
    except TokenVerificationError as exc:
        return False, exc.message
    if isinstance(source, PemKeySource):
        try:
            source.key_for(None)
        except TokenVerificationError as exc:
            return False, exc.message
        return True, "pem key"
    if not isinstance(source, RemoteJwksSource):
        return True, "development issuer"
    try:
        cached = source.warm()
    except Exception as exc:
        return False, f"cache unreachable ({exc.__class__.__name__})"
    return (True, "jwks cached") if cached else (False, "the JWKS could not be loaded")


def check_model() -> Check:
    """`/api/chat` needs a model: a provider key, or the development model switched on explicitly (or by DEBUG)."""
    if chat_settings.OPENAI_API_KEY:
        return True, "openai-compatible provider"
    if chat_settings.DEV_MODEL:
        return True, "development model"
    return False, "no model provider: set OPENAI_API_KEY (or CHAT_DEV_MODEL=true for the offline development model)"


def check_chat_redis() -> Check:
    """Resumable generations keep their logs in Redis (`CHAT_REDIS_URL`): it must answer."""
    import redis

    try:
        client = redis.Redis.from_url(chat_settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:
        return False, f"unreachable ({exc.__class__.__name__})"
    return True, "ok"


READINESS_CHECKS: dict[str, Callable[[], Check]] = {
    "database": check_database,
    "cache": check_cache,
    "jwks": check_session_keys,
    "model": check_model,
}


def readiness_checks() -> dict[str, Callable[[], Check]]:
    """What a request will need: the chat Redis only where generations are resumable (it is configured)."""
    if chat_settings.RESUMABLE:
        return {**READINESS_CHECKS, "chat_redis": check_chat_redis}
    return READINESS_CHECKS


@never_cache
@get_only
def readyz(request: HttpRequest) -> JsonResponse:
    results = {name: check() for name, check in readiness_checks().items()}
    ready = all(ok for ok, _ in results.values())
    if not ready:
        logger.warning("not ready: %s", ", ".join(name for name, (ok, _) in results.items() if not ok))
    body = {
        "status": "ready" if ready else "unavailable",
        "checks": {name: {"ok": ok, "detail": detail} for name, (ok, detail) in results.items()},
    }
    return JsonResponse(body, status=200 if ready else 503)
