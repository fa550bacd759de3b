"""A lost database answers 503 with a JSON body instead of a 500 page, and heals by itself.

When a view fails with a connection-level database error, the broken connections are closed so the
next request opens a fresh one: once the database is back, requests succeed again without a restart.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.db import connections
from django.db.utils import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.utils.deprecation import MiddlewareMixin

from config.errors import as_json_error, json_error

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5


class HybridMiddleware:
    """Base for middleware with both a sync `__call__` and an async `__acall__`: Django picks the one that
    matches the stack, so an ASGI request never hops to a thread just to pass through."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)


def close_broken_connections() -> None:
    """Drop every connection: a half-dead socket would otherwise fail the next request too."""
    for conn in connections.all(initialized_only=True):
        try:
            conn.close()
        except Exception:  # noqa: S110 - closing a dead connection may itself fail; it is gone either way
            pass


def database_unavailable_response() -> HttpResponse:
    response = json_error("database_unavailable", "The database is unreachable right now. Retry in a few seconds.", 503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class DatabaseUnavailableMiddleware(MiddlewareMixin):
    """Turn `OperationalError`/`InterfaceError` raised by a view into a 503 `database_unavailable`."""

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        logger.error("database unavailable: %s", exception.__class__.__name__)
        close_broken_connections()
        return database_unavailable_response()


class JsonErrorMiddleware(HybridMiddleware):
    """Apply `config.errors.as_json_error` to every response: one error shape on the API paths."""

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self.__acall__(request)
        return as_json_error(request, self.get_response(request))

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        return as_json_error(request, await self.get_response(request))
