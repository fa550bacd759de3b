"""The service as deployed plus one bench-only route, for bench/turn.py's thread-list ratio.

`DJANGO_SETTINGS_MODULE=bench.support.bare_settings` is `config.settings` with `ROOT_URLCONF` pointing here: every
route of the service, and `GET /bench/bare-threads?user=ID`, a bare Django view (no authentication, no DRF,
no serializer) that reads the same page through `services.thread_list` and returns the same JSON as
`GET /api/threads` for that user. The ratio of the two is what the service's own layers cost.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import include, path

from chatauth.caller import Workspace
from threads import services
from threads.conf import threads_settings
from threads.pagination import encode_cursor


def _stamp(value: object) -> str | None:
    if value is None:
        return None
    text = value.isoformat()  # type: ignore[attr-defined]
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def bare_threads(request: HttpRequest) -> JsonResponse:
    limit = int(threads_settings.PAGE_SIZE)
    rows = services.thread_list(workspace=Workspace(request.GET["user"], None), limit=limit + 1)
    page = rows[:limit]
    threads = [
        {
            "id": t.id,
            "title": t.title,
            "is_archived": t.is_archived,
            "metadata": t.metadata,
            "external_id": t.external_id,
            "created_at": _stamp(t.created_at),
            "updated_at": _stamp(t.updated_at),
            "last_message_at": _stamp(t.last_message_at),
        }
        for t in page
    ]
    return JsonResponse({"threads": threads, "next_cursor": None if len(rows) <= limit else encode_cursor(page[-1])})


urlpatterns = [path("bench/bare-threads", bare_threads), path("", include("config.urls"))]
