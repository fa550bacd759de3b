"""A front end on a second origin, in Chromium: the requests of README "Connect your own front end", cross-origin.

A static page served from another loopback port signs in through the development issuer (`POST /dev/session`),
chats as `useChat` + `DefaultChatTransport` does (`POST /api/chat` with only the last message, Bearer token), resumes
and stops through `/api/chat/{id}/stream`, lists threads as the thread-list adapter does (`GET /api/threads`), and
calls `/v1` as `AssistantCloud` does (token exchange at `POST /api/assistant-ui-token`, then `GET /v1/threads`). The
page drives `fetch` with the snippets' exact requests rather than bundling the npm packages (no bundler in the test
toolchain). The same page from an origin that is not listed can do none of it.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.live_server import free_port

CHROMIUM = "/usr/bin/chromium"
KEY = {"kid": "second-origin", "secret": "s" * 24 + "-secret-for-second-origin-tests"}

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>second origin</title></head><body>
<script type="module">
const API = new URLSearchParams(location.search).get("api");
const result = { steps: [] };
const step = async (name, fn) => {
  try { result[name] = await fn(); result.steps.push(name); }
  catch (error) { result[name] = { failed: String(error) }; }
};
let token = null, workspaceToken = null;
const auth = () => ({ Authorization: `Bearer ${token}` });
await step("session", async () => {
  const r = await fetch(`${API}/dev/session`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ user: "user_second" }),
  });
  token = (await r.json()).token;
  return { status: r.status, hasToken: !!token };
});
await step("chat", async () => {
  // DefaultChatTransport + prepareSendMessagesRequest: { id, messages: messages.slice(-1), trigger, messageId }
  const r = await fetch(`${API}/api/chat`, {
    method: "POST",
    headers: { ...auth(), "Content-Type": "application/json" },
    body: JSON.stringify({
      id: "thr_second_origin",
      messages: [{ id: "msg_user_1", role: "user", parts: [{ type: "text", text: "Hello from another origin" }] }],
      trigger: "submit-message",
    }),
  });
  const text = await r.text();
  const deltas = (text.match(/"text-delta"/g) || []).length;
  return { status: r.status, type: r.headers.get("content-type"), done: text.includes("data: [DONE]"), deltas };
});
await step("resume", async () => (await fetch(`${API}/api/chat/thr_second_origin/stream`, { headers: auth() })).status);
await step("stop", async () =>
  (await fetch(`${API}/api/chat/thr_second_origin/stream`, { method: "DELETE", headers: auth() })).status);
await step("threads", async () => {
  const headers = { ...auth(), "Content-Type": "application/json" };
  const r = await fetch(`${API}/api/threads?archived=all`, { headers });
  return (await r.json()).threads.map((t) => t.id);
});
await step("cloud", async () => {
  const t = await fetch(`${API}/api/assistant-ui-token`, { method: "POST", headers: auth() });
  workspaceToken = await t.text();
  const r = await fetch(`${API}/v1/threads?limit=50`, {
    headers: { Authorization: `Bearer ${workspaceToken}`, "Content-Type": "application/json", "Aui-Sdk": "page" },
  });
  return { token: t.status, status: r.status, threads: (await r.json()).threads.map((x) => x.id) };
});
window.__result = result;
</script></body></html>
"""


class _Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = PAGE.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def page_origins() -> Iterator[tuple[str, str]]:
    """Two static origins serving the page: one listed in CORS_ALLOWED_ORIGINS, one not."""
    servers = [http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), _Page) for _ in range(2)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield tuple(f"http://127.0.0.1:{s.server_address[1]}" for s in servers)  # type: ignore[misc]
    for server in servers:
        server.shutdown()


@pytest.fixture
def chromium(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"chromium not installed at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    playwright = sync_api.sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        yield browser
        browser.close()
    finally:
        playwright.stop()


def run_page(chromium: Any, origin: str, api: str) -> dict[str, Any]:
    page = chromium.new_page()
    try:
        page.goto(f"{origin}/?api={api}")
        page.wait_for_function("window.__result !== undefined", timeout=60_000)
        return page.evaluate("window.__result")
    finally:
        page.close()


def test_a_front_end_on_another_origin_signs_in_chats_lists_and_uses_assistant_cloud(
    settings: Any, dev_issuer_on: None, live_server_url: str, page_origins: tuple[str, str], chromium: Any
) -> None:
    allowed, refused = page_origins
    settings.CLOUD = {"SIGNING_KEYS": [KEY], "CORS_ALLOWED_ORIGINS": [allowed]}
    settings.CHAT = {"DEV_MODEL": True, "RESUMABLE": False}

    result = run_page(chromium, allowed, live_server_url)
    assert result["steps"] == ["session", "chat", "resume", "stop", "threads", "cloud"], result
    assert result["session"] == {"status": 200, "hasToken": True}
    chat = result["chat"]
    assert chat["status"] == 200 and chat["type"].startswith("text/event-stream")
    assert chat["done"] and chat["deltas"] > 0
    assert result["resume"] == 204 and result["stop"] == 204  # nothing running any more
    assert result["threads"] == ["thr_second_origin"]
    assert result["cloud"] == {"token": 200, "status": 200, "threads": ["thr_second_origin"]}

    blocked = run_page(chromium, refused, live_server_url)
    assert blocked["steps"] == [], blocked  # the browser refuses every response (no CORS headers for this origin)
    assert "failed" in blocked["session"] and "failed" in blocked["chat"]
