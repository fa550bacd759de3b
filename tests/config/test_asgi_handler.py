"""`config.handler.ASGIHandler` through the real ASGI application (issue 17: one thread per open stream).

Over uvicorn on loopback (the application uvicorn serves, `config.asgi:application`), and in process with asgiref's
`ApplicationCommunicator` where a test changes settings Django's middlewares read at start-up (a fresh handler):
an open chat stream holds no thread of its own; a sync DRF view's database connection is still handled by
`request_finished` in the thread that opened it; CSRF and the security headers are Django's, as before.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest
from asgiref.sync import SyncToAsync
from asgiref.testing import ApplicationCommunicator
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core.signals import request_finished
from django.db import connection as test_connection
from django.db.backends.signals import connection_created

from config.handler import IN_PLACE, NOT_ON_CHAT_PATHS, ASGIHandler, is_chat_path
from tests.support.chat import chat_body
from tests.support.openai_server import OpenAIServer, Reply

LONG = Reply(deltas=[f" w{i}" for i in range(3000)], delay=0.05)  # streams until the client leaves
STREAMS = 8


def service_threads() -> int:
    """Threads of this process but the loopback upstream's (one per connection: `process_request_thread`)."""
    return sum(1 for thread in threading.enumerate() if "process_request_thread" not in thread.name)


def wait_until(condition: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)
    return value


def test_settings_name_djangos_middlewares_and_the_handler_runs_them_in_place() -> None:
    """`check --deploy` finds Security, CSRF and clickjacking by their Django names; the handler swaps them."""
    assert not [path for path in django_settings.MIDDLEWARE if path.startswith("config.inline.")]
    assert set(IN_PLACE) <= set(django_settings.MIDDLEWARE)
    handler = ASGIHandler()
    assert sorted(handler.in_place) == sorted(IN_PLACE)
    # CSRF's process_view is the only one, and runs in place.
    assert [m.__name__ for m in handler._view_middleware] == ["process_view_in_place"]


def test_the_chat_paths_chain_is_the_settings_chain_without_the_admins_middlewares() -> None:
    """Every other middleware (request id, security, metrics, CORS, JSON errors, CSRF, Clerk, clickjacking) runs on
    the chat paths as on any other; a renamed or removed middleware fails here instead of running everywhere."""
    assert NOT_ON_CHAT_PATHS <= set(django_settings.MIDDLEWARE)
    handler = ASGIHandler()
    assert handler.loaded == list(django_settings.MIDDLEWARE)
    assert handler.chat_paths is not None and handler.chat_paths.chat_paths is None
    assert handler.chat_paths.loaded == [m for m in django_settings.MIDDLEWARE if m not in NOT_ON_CHAT_PATHS]
    assert sorted(handler.chat_paths.in_place) == sorted(set(IN_PLACE) - NOT_ON_CHAT_PATHS)


@pytest.mark.parametrize(
    ("path", "chat"),
    [
        ("/api/chat", True),
        ("/api/chat/thread_1/stream", True),
        ("/api/chatroom", False),
        ("/api/threads/thread_1/title", False),
        ("/admin/login/", False),
        ("/", False),
    ],
)
def test_only_the_chat_views_paths_take_the_chat_chain(path: str, chat: bool) -> None:
    assert is_chat_path(path) is chat


def test_a_chat_path_has_no_django_session_and_the_rest_keeps_it(transactional_db, live_server_url) -> None:
    """The full chain clears a stale Django session cookie (SessionMiddleware); the chat chain never reads it."""
    stale = {"Cookie": "sessionid=stale"}
    with httpx.Client(base_url=live_server_url, timeout=20) as client:
        elsewhere = client.get("/healthz", headers=stale)
        chat = client.get("/api/chat", headers=stale)
    assert elsewhere.status_code == 200 and "sessionid=" in elsewhere.headers.get("set-cookie", "")
    assert chat.status_code == 405 and chat.json()["error"] == "method_not_allowed"
    assert "sessionid=" not in chat.headers.get("set-cookie", "")
    assert chat.headers["x-frame-options"] == "DENY" and re.fullmatch(r"[0-9a-f]{32}", chat.headers["x-request-id"])


# --- an open stream holds no thread -------------------------------------------------------------------------------


@pytest.fixture
def upstream(settings: Any, openai_server: OpenAIServer, dev_issuer_on: None) -> OpenAIServer:
    settings.CHAT = {
        "OPENAI_API_KEY": "sk-test-server-side",
        "OPENAI_BASE_URL": openai_server.base_url,
        "MODEL": "test-model",
        "DEV_MODEL": False,
        "RATE_LIMIT_REQUESTS": 1000,
        "RESUMABLE": False,
    }
    openai_server.default = LONG
    return openai_server


def open_streams(stack: ExitStack, base_url: str, make_token: Callable[..., str], round_: int) -> list[Iterator[str]]:
    """STREAMS chats, each followed until its first text-delta and left open (distinct users: no stream cap).
    Returns their line iterators (kept: a dropped iterator may close its connection)."""
    streams = []
    for i in range(STREAMS):
        user = f"user_stream_{i}"
        client = stack.enter_context(httpx.Client(base_url=base_url, timeout=30))
        response = stack.enter_context(
            client.stream(
                "POST",
                "/api/chat",
                json=chat_body(f"thread_r{round_}_{i}"),
                headers={"Authorization": f"Bearer {make_token(user)}"},
            )
        )
        assert response.status_code == 200
        streams.append(response.iter_lines())
        next_delta(streams[-1])
    return streams


def next_delta(lines: Iterator[str]) -> str:
    return next(line for line in lines if '"text-delta"' in line)


def test_open_chat_streams_hold_no_thread_of_their_own(upstream, live_server_url, make_token) -> None:
    with ExitStack() as warm:  # the first round starts the pools every request shares (DB, default executor)
        open_streams(warm, live_server_url, make_token, 0)
    time.sleep(0.5)
    threads_before, executors_before = service_threads(), len(SyncToAsync.context_to_thread_executor)
    with ExitStack() as stack:
        streams = open_streams(stack, live_server_url, make_token, 1)
        executors = len(SyncToAsync.context_to_thread_executor)
        threads = service_threads()
        for lines in streams:  # all of them were open while counted
            next_delta(lines)
    # Django's handler: one executor (and thread) per open stream, until it ends.
    assert executors <= executors_before, f"{executors - executors_before} per-request executors"
    assert threads - threads_before < STREAMS // 2, f"{threads - threads_before} new threads for {STREAMS} streams"


# --- a sync view's database connection is handled in its thread ---------------------------------------------------


@pytest.fixture
def connection_events() -> Iterator[dict[str, list]]:
    """The database connections opened (thread, wrapper, server pid) and the threads `request_finished` ran in."""
    events: dict[str, list] = {"created": [], "finished": []}
    main = threading.get_ident()

    def created(sender: Any, connection: Any, **kwargs: Any) -> None:
        # Requests' connections only: not this test's, nor the chat database threads' (a chat of an earlier test
        # may still save a title there).
        if threading.get_ident() != main and not threading.current_thread().name.startswith("chat-db-"):
            pid = connection.connection.info.backend_pid if connection.vendor == "postgresql" else None
            events["created"].append((threading.get_ident(), connection, pid))

    def finished(sender: Any, **kwargs: Any) -> None:
        events["finished"].append(threading.get_ident())

    connection_created.connect(created)
    request_finished.connect(finished)
    yield events
    connection_created.disconnect(created)
    request_finished.disconnect(finished)


def test_a_sync_views_connection_is_closed_in_its_thread_at_request_end(
    live_server_url, make_token, connection_events
) -> None:
    assert django_settings.DATABASES["default"]["CONN_MAX_AGE"] == 0  # the default: closed after each request
    headers = {"Authorization": f"Bearer {make_token('user_sync_view')}"}
    response = httpx.get(f"{live_server_url}/api/threads", headers=headers, timeout=20)  # DRF: a sync view
    assert response.status_code == 200
    wait_until(lambda: connection_events["finished"])
    (thread, wrapper, pid), *others = connection_events["created"]
    assert not others, "one connection, in the request's thread"
    # close_old_connections ran in the thread whose connection it is, and closed it.
    assert thread in connection_events["finished"]
    wait_until(lambda: wrapper.connection is None)
    if pid is not None:  # PostgreSQL: the server session is gone too
        with test_connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
            assert cursor.fetchone()[0] == 0


# --- CSRF, as Django enforces it ----------------------------------------------------------------------------------


def test_csrf_still_refuses_a_cookie_signed_in_unsafe_request_without_a_token(transactional_db, live_server_url):
    get_user_model().objects.create_superuser("csrf_operator", "csrf@example.test", "a long pass phrase 42")
    with httpx.Client(base_url=live_server_url, timeout=20) as browser:
        page = browser.get("/admin/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert token
        assert browser.post("/admin/login/", data={"username": "csrf_operator", "password": "x"}).status_code == 403
        signed_in = browser.post(
            "/admin/login/?next=/admin/",
            data={"username": "csrf_operator", "password": "a long pass phrase 42", "csrfmiddlewaretoken": token[1]},
        )
        assert signed_in.status_code == 302 and "sessionid" in browser.cookies
        refused = browser.post("/admin/logout/")  # the session cookie alone: no token
        assert refused.status_code == 403 and "CSRF" in refused.text
        assert browser.get("/admin/").status_code == 200  # still signed in
        logged_out = browser.post("/admin/logout/", headers={"X-CSRFToken": browser.cookies["csrftoken"]})
        assert logged_out.status_code == 200
        assert browser.get("/admin/").status_code == 302  # to the login page


# --- security headers ---------------------------------------------------------------------------------------------


async def _get(app: Any, path: str, headers: list[tuple[bytes, bytes]]) -> tuple[int, dict[bytes, bytes]]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    communicator = ApplicationCommunicator(app, scope)
    await communicator.send_input({"type": "http.request", "body": b""})
    start = await communicator.receive_output(10)
    while (await communicator.receive_output(10)).get("more_body"):
        pass
    await communicator.wait(10)
    return start["status"], dict(start["headers"])


def test_security_headers_and_hsts_as_configured(transactional_db, settings, live_server_url) -> None:
    # The served application, with the settings it started with: clickjacking, nosniff, referrer, COOP.
    served = httpx.get(f"{live_server_url}/api/chat", timeout=20)  # an async view (405 to a GET)
    assert served.status_code == 405
    assert served.headers["x-frame-options"] == "DENY"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["referrer-policy"] == "same-origin"
    assert served.headers["cross-origin-opener-policy"] == "same-origin"
    assert "strict-transport-security" not in served.headers  # HSTS off by default

    # Production's HTTPS settings (read when the middleware is loaded: a fresh handler).
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    app = ASGIHandler()
    status, headers = asyncio.run(_get(app, "/api/chat", []))
    assert status == 301 and headers[b"Location"] == b"https://testserver/api/chat"
    status, headers = asyncio.run(_get(app, "/api/chat", [(b"x-forwarded-proto", b"https")]))
    assert status == 405
    assert headers[b"Strict-Transport-Security"] == b"max-age=31536000; includeSubDomains"
    assert headers[b"X-Frame-Options"] == b"DENY" and headers[b"X-Content-Type-Options"] == b"nosniff"
