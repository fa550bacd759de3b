"""The ASGI application, warmed before the worker takes traffic.

Django resolves its URL configuration, DRF its settings, our apps their keys and settings lazily, on first use: left
alone, a fresh worker's first request pays for all of it (1.3-4.4 s in `bench/first_request.py`, vs ~10 ms for
later ones). `warm_up()` does that work at start-up instead, in the process uvicorn forks for each worker. Each
step is best effort: a failure is logged and the request that needs the thing reports it as before (a broken key
is `/readyz`'s business, not a reason for the import to fail). `WARM_UP=false` skips it.

The handler is `config.handler.ASGIHandler` (Django's, with no thread per request unless the request does
thread-sensitive sync work), set up as `django.core.asgi.get_asgi_application()` sets up Django's.
"""

import gc
import logging
import os
import threading
import time

import django

from config.handler import ASGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

django.setup(set_prefix=False)
application = ASGIHandler()

logger = logging.getLogger("config.asgi")

# Paths resolved at start-up: resolving imports every view module (DRF, drf-spectacular, the chat stack).
WARM_PATHS = ("/api/threads", "/api/chat", "/api/chat/x/stream", "/v1/threads", "/api/assistant-ui-token", "/readyz")


def _warm_urls() -> None:
    from django.urls import resolve, reverse

    for path in WARM_PATHS:
        resolve(path)
    reverse("admin:index")  # populates the reverse lookups (the Clerk middleware reverses this on every request)


def _warm_settings() -> None:
    from chatauth.clerk.conf import clerk_settings
    from chatauth.cloud.conf import cloud_settings
    from threads.chat.conf import chat_settings
    from threads.conf import threads_settings

    for namespace in (clerk_settings, cloud_settings, chat_settings, threads_settings):
        for name in namespace.names():
            getattr(namespace, name)
    cloud_settings.signing_keys  # noqa: B018  (parsed once)


def _warm_keys() -> None:
    """The session-token key source and the crypto behind it; with the development issuer, a token round trip."""
    from chatauth.clerk.conf import clerk_settings
    from chatauth.clerk.tokens import verify_session_token
    from chatauth.keys import PemKeySource, session_key_source

    source = session_key_source()
    if isinstance(source, PemKeySource):
        source.key_for(None)
    if clerk_settings.uses_dev_issuer:
        from chatauth.clerk.devissuer import dev_issuer

        verify_session_token(dev_issuer().mint("user_warmup", ttl=60))
    from chatauth.caller import Workspace
    from chatauth.cloud.tokens import mint, verify

    verify(mint(Workspace("user_warmup", None)))


def _warm_database() -> None:
    from django.db import connections

    for alias in connections:
        connection = connections[alias]
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        connection.close()


def _warm_model_client() -> None:
    """A model client made and dropped: the SDK's transport imported, the process's TLS context built (about
    150 ms of a worker's first chat otherwise). Nothing is sent; the offline development model needs none."""
    from threads.chat.conf import chat_settings
    from threads.chat.upstream import new_client

    if not chat_settings.uses_dev_model:
        new_client(chat_settings.OPENAI_API_KEY, chat_settings.OPENAI_BASE_URL)


def _warm_rendering() -> None:
    from rest_framework.renderers import JSONRenderer

    JSONRenderer().render({"warm": True})


def _warm_up() -> None:
    started = time.perf_counter()
    for step in (_warm_urls, _warm_settings, _warm_keys, _warm_database, _warm_model_client, _warm_rendering):
        try:
            step()
        except Exception as exc:
            logger.warning("warm-up step %s failed: %s", step.__name__, exc.__class__.__name__)
    logger.debug("warm-up done in %.0f ms", (time.perf_counter() - started) * 1000)


def warm_up() -> None:
    """In a thread of its own, joined: uvicorn imports this module inside its running event loop, where Django
    refuses database work (and the connection opened belongs to that thread, closed when done)."""
    thread = threading.Thread(target=_warm_up, name="warm-up")
    thread.start()
    thread.join()


def tune_gc() -> None:
    """Freeze what start-up allocated (modules, settings, URL patterns, the warmed caches: never garbage) out of
    every later collection, and collect less often (`GC_THRESHOLD`). Full collections walked every live object,
    Django's included, each time: with hundreds of streams open they took 150 ms apiece, and collections in all
    cost 2.5 ms of CPU per chat turn (issue 17). Reference counting still frees everything at once; only cycles
    wait for a collection, and there are few of them."""
    from django.conf import settings

    if settings.GC_FREEZE:
        gc.collect()
        gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(settings.GC_THRESHOLD, middle, oldest)


if os.environ.get("WARM_UP", "true").lower() not in {"0", "false", "no", "off"}:
    warm_up()
tune_gc()
