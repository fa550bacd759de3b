"""Your own front end on a second origin, in Chromium: README "Connect your own front end"'s code, run as written.

tests/threads/web/second_origin is a small React page built (by `make web-tests`, never here) from the README's
files: `Chat.tsx` (AI SDK `useChat` + `DefaultChatTransport`, Bearer from `getToken()`, resume, stop),
`Runtime.tsx` (assistant-ui `useChatRuntime` with a thread-list adapter over /api/threads) and `cloud.ts`
(`AssistantCloud` pointed at this service, token from /api/assistant-ui-token). A test checks that the README's
code blocks are those files, so they cannot drift apart. The page is served from other loopback ports than the
service; its only stand-in is `@clerk/clerk-react`, whose `getToken()` returns a development issuer token.
"""

from __future__ import annotations

import functools
import http.server
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings

from chatauth.caller import Workspace
from tests.support.live_server import free_port
from tests.support.openai_server import Reply
from tests.support.redis_server import redis_up
from tests.threads.web.conftest import launch_chromium
from tests.threads.web.test_product import REDIS_URL
from threads.models import Thread

ROOT = Path(django_settings.BASE_DIR)
PAGE_DIR = ROOT / "tests" / "threads" / "web" / "second_origin"
README_FILES = ["src/Chat.tsx", "src/Runtime.tsx", "src/cloud.ts"]
KEY = {"kid": "second-origin", "secret": "s" * 24 + "-secret-for-second-origin-tests"}
THREAD = "thr_second_origin"


def readme_code_blocks() -> list[str]:
    """The ts/tsx blocks of README "Connect your own front end" (up to the next top-level section), in order."""
    readme = (ROOT / "README.md").read_text("utf-8")
    section = readme.split("\n## Connect your own front end\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^```tsx?\n(.*?)^```$", section, flags=re.M | re.S)


def test_the_readmes_front_end_code_is_the_code_the_second_origin_page_is_built_from() -> None:
    files = [(PAGE_DIR / name).read_text("utf-8") for name in README_FILES]
    assert readme_code_blocks() == files


@pytest.fixture(scope="session")
def page_dist() -> Path:
    """The page built by `make web-tests`: skipped when missing, a failure when older than its sources."""
    built = PAGE_DIR / "dist" / "index.html"
    if not built.exists():
        pytest.skip(f"the second-origin page is not built ({built} is missing): run `make web-tests`")
    sources = [PAGE_DIR / "index.html", PAGE_DIR / "vite.config.mts", *(PAGE_DIR / "src").rglob("*")]
    if built.stat().st_mtime < max(f.stat().st_mtime for f in sources if f.is_file()):
        pytest.fail("the second-origin page's build is older than its sources: run `make web-tests`")
    return built.parent


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def page_origins(page_dist: Path) -> Iterator[tuple[str, str]]:
    """Two static origins serving the built page: one listed in CORS_ALLOWED_ORIGINS, one not."""
    handler = functools.partial(_Quiet, directory=str(page_dist))
    servers = [http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler) for _ in range(2)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield tuple(f"http://127.0.0.1:{s.server_address[1]}" for s in servers)  # type: ignore[misc]
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def service(
    settings: Any, dev_issuer_on: None, live_server_url: str, page_origins: tuple[str, str]
) -> tuple[str, str, str]:
    """(service URL, allowed page origin, refused page origin), the service in development sign-in mode."""
    settings.CLOUD = {"SIGNING_KEYS": [KEY], "CORS_ALLOWED_ORIGINS": [page_origins[0]]}
    settings.CHAT = {"DEV_MODEL": True, "RESUMABLE": False, "RATE_LIMIT_REQUESTS": 1000}
    return live_server_url, *page_origins


@pytest.fixture
def chromium(service: tuple[str, str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with launch_chromium(monkeypatch) as browser:
        yield browser


@pytest.fixture
def open_page(chromium: Any) -> Iterator[Any]:
    """`open_page(origin, api, user=...)`: the page, signed in through the development issuer; every request
    and response it makes is recorded on `page.calls` as (method, url, status)."""
    contexts: list[Any] = []

    def _open(origin: str, api: str, user: str = "user_second", sign_in: bool = True) -> Any:
        context = chromium.new_context()
        context.set_default_timeout(60_000)
        contexts.append(context)
        page = context.new_page()
        page.errors = []  # type: ignore[attr-defined]
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        page.requests = []  # type: ignore[attr-defined]
        page.on("request", lambda r: page.requests.append(r))
        page.goto(f"{origin}/?api={api}&user={user}&thread={THREAD}")
        if sign_in:
            page.get_by_role("button", name=f"Sign in as {user}").click()
            page.locator(f'main[data-signed-in="{user}"]').wait_for()
        return page

    yield _open
    for context in contexts:
        context.close()


def api_requests(page: Any, method: str, path: str) -> list[Any]:
    return [r for r in page.requests if r.method == method and r.url.split("?")[0].endswith(path)]


def chat_and_wait(page: Any, text: str) -> str:
    chat = page.get_by_role("region", name="Chat")
    chat.get_by_label("Message").fill(text)
    chat.get_by_role("button", name="Send").click()
    chat.locator('p[data-role="user"]', has_text=text).wait_for()
    chat.get_by_role("button", name="Send").wait_for()  # back after the reply finished
    return chat.locator('p[data-role="assistant"]').last.inner_text()


def test_use_chat_from_another_origin_sends_the_last_message_with_a_bearer_token_and_resumes(
    service, open_page
) -> None:
    api, allowed, _ = service
    page = open_page(allowed, api)
    resume = api_requests(page, "GET", f"/api/chat/{THREAD}/stream")
    assert resume and resume[0].response().status == 404  # `resume: true` asks on mount; no such thread yet

    first = chat_and_wait(page, "Hello from another origin")
    second = chat_and_wait(page, "And once more")

    assert "Hello from another origin" in first and "And once more" in second
    posts = api_requests(page, "POST", "/api/chat")
    assert len(posts) == 2
    for post in posts:
        assert post.headers["authorization"].startswith("Bearer ")
        assert post.response().headers["content-type"].startswith("text/event-stream")
        body = json.loads(post.post_data)
        assert body["id"] == THREAD and len(body["messages"]) == 1  # the server keeps the history
    assert Thread.objects.for_workspace(Workspace("user_second")).filter(id=THREAD).exists()

    page.reload()
    page.get_by_role("button", name="Sign in as user_second").click()
    page.wait_for_function("() => performance.getEntriesByType('resource').some(e => e.name.endsWith('/stream'))")
    resumed = api_requests(page, "GET", f"/api/chat/{THREAD}/stream")[-1]
    assert resumed.headers["authorization"].startswith("Bearer ")
    assert resumed.response().status == 204  # the thread exists, nothing is running
    assert page.errors == []


@pytest.mark.parametrize("resumable", [False, True], ids=["connection-owned", "resumable"])
def test_stop_from_another_origin_ends_the_reply_and_the_generation(
    settings, service, open_page, upstream, resumable
) -> None:
    # Resumable mode: the server, not the tab, owns the generation, so only the README's DELETE can stop it.
    if resumable:
        if not redis_up(REDIS_URL):
            pytest.skip("resumable mode needs Redis at 127.0.0.1:6379")
        settings.CHAT = {**settings.CHAT, "RESUMABLE": True, "REDIS_URL": REDIS_URL, "KEEPALIVE_SECONDS": 0.5}
    api, allowed, _ = service
    upstream.default = Reply(deltas=[f" word{i}" for i in range(200)], delay=0.05)
    page = open_page(allowed, api, user="user_stopper")
    chat = page.get_by_role("region", name="Chat")
    chat.get_by_label("Message").fill("Write a long story")
    chat.get_by_role("button", name="Send").click()
    chat.locator('p[data-role="assistant"]', has_text="word3").wait_for()

    with page.expect_response(lambda r: r.request.method == "DELETE" and r.url.endswith(f"/{THREAD}/stream")) as stop:
        chat.get_by_role("button", name="Stop").click()

    assert stop.value.status in (200, 204)
    assert stop.value.request.headers["authorization"].startswith("Bearer ")
    chat.get_by_role("button", name="Send").wait_for()
    text = chat.locator('p[data-role="assistant"]').last.inner_text()
    page.wait_for_timeout(800)
    assert chat.locator('p[data-role="assistant"]').last.inner_text() == text, "still streaming after Stop"
    assert "word199" not in text
    assert len(api_requests(page, "POST", "/api/chat")) == 1  # Stop sent nothing else


def test_assistant_ui_from_another_origin_lists_threads_and_chats_in_a_new_one(service, open_page) -> None:
    api, allowed, _ = service
    page = open_page(allowed, api, user="user_aui")
    chat_and_wait(page, "A thread started with useChat")
    page.reload()  # the thread list loads what the server has
    page.get_by_role("button", name="Sign in as user_aui").click()
    threads = page.get_by_role("list", name="Threads")
    threads.locator(f'li[data-thread-id="{THREAD}"]').wait_for()

    aui = page.get_by_role("region", name="assistant-ui")
    aui.get_by_label("assistant-ui message").fill("Hello from assistant-ui")
    aui.get_by_role("button", name="Send with assistant-ui").click()
    aui.locator('[data-aui-role="assistant"]').wait_for()
    page.wait_for_function(
        "() => document.querySelectorAll('ul[aria-label=Threads] li[data-thread-id^=thr_]').length === 2"
    )

    ids = set(threads.locator("li[data-thread-id]").evaluate_all("els => els.map(e => e.dataset.threadId)"))
    stored = set(Thread.objects.for_workspace(Workspace("user_aui")).values_list("id", flat=True))
    assert ids == stored and THREAD in ids and len(ids) == 2
    created = api_requests(page, "POST", "/api/threads")
    assert len(created) == 1 and created[0].response().status == 201  # the adapter's initialize()
    new_id = (ids - {THREAD}).pop()
    chat_posts = [json.loads(r.post_data) for r in api_requests(page, "POST", "/api/chat")]
    assert chat_posts[-1]["id"] == new_id and len(chat_posts[-1]["messages"]) == 1
    assert page.errors == []


def test_assistant_cloud_from_another_origin_lists_the_workspaces_threads_through_v1(service, open_page) -> None:
    api, allowed, _ = service
    page = open_page(allowed, api, user="user_cloud")
    chat_and_wait(page, "Something for the cloud to list")

    cloud = page.get_by_role("region", name="Assistant Cloud")
    cloud.get_by_role("button", name="List with AssistantCloud").click()
    listed = cloud.get_by_label("Cloud threads")
    listed.wait_for()

    assert listed.inner_text() == THREAD
    token = api_requests(page, "POST", "/api/assistant-ui-token")
    assert token and token[0].response().status == 200
    v1 = api_requests(page, "GET", "/v1/threads")
    assert v1 and v1[-1].response().status == 200
    assert v1[-1].headers["authorization"] != token[0].headers["authorization"]  # the workspace token, not Clerk's


def test_a_front_end_on_an_origin_not_in_cors_allowed_origins_can_not_sign_in_or_call_the_service(
    service, open_page
) -> None:
    api, _, refused = service
    page = open_page(refused, api, sign_in=False)
    page.get_by_role("button", name="Sign in as user_second").click()

    page.get_by_role("alert").wait_for()  # the browser refused the response: no CORS headers for this origin
    assert "Failed to fetch" in page.get_by_role("alert").inner_text()
    assert page.locator("main[data-signed-in]").count() == 0
