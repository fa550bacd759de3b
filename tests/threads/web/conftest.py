"""Fixtures for the browser tests: the built front end, the service on loopback, headless Chromium.

The browser is Debian's chromium driven by Playwright with `executable_path` (no browser download).
Tests skip, never fail, when chromium or the build (`make web`) is missing. Screenshots go to artifacts/web/.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connections

from tests.support.openai_server import OpenAIServer

WEBAPP_DIR = Path(django_settings.BASE_DIR) / "threads" / "webapp"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(django_settings.BASE_DIR) / "artifacts" / "web"

# Records, from the first paint of every page, each thread title and each assistant-text length the page ever
# shows: proves "never shown, even for a moment" and "the reply arrived in pieces".
OBSERVER_SCRIPT = """
(() => {
  window.__seenTitles = [];
  window.__assistantLengths = [];
  const record = () => {
    for (const el of document.querySelectorAll('[data-testid="thread-title"]')) {
      const t = el.textContent;
      if (t && !window.__seenTitles.includes(t)) window.__seenTitles.push(t);
    }
    const replies = document.querySelectorAll('[data-testid="message-assistant"]');
    if (replies.length) {
      const n = replies[replies.length - 1].textContent.length;
      const seen = window.__assistantLengths;
      if (seen[seen.length - 1] !== n) seen.push(n);
    }
  };
  new MutationObserver(record).observe(document, { subtree: true, childList: true, characterData: true });
})();
"""


def _newest_source_mtime() -> float:
    files = [WEBAPP_DIR / "package-lock.json", WEBAPP_DIR / "vite.config.ts", *(WEBAPP_DIR / "src").rglob("*")]
    return max(f.stat().st_mtime for f in files if f.is_file())


@pytest.fixture(scope="session")
def webapp_dist() -> Path:
    """The Vite build made by `make web` (never built here: a test run does not write into the source tree).

    Missing: skipped, with the command to run. Older than its sources: a failure, since the tests would
    otherwise exercise an app that is not the one in the tree.
    """
    manifest = WEBAPP_DIR / "dist" / ".vite" / "manifest.json"
    if not manifest.exists():
        pytest.skip(f"the browser app is not built ({manifest} is missing): run `make web` (needs Node.js >= 20.19)")
    if manifest.stat().st_mtime < _newest_source_mtime():
        pytest.fail(f"the browser app build in {WEBAPP_DIR / 'dist'} is older than its sources: run `make web`")
    return WEBAPP_DIR / "dist"


DEV_CHAT = {
    "OPENAI_API_KEY": "",
    "DEV_MODEL": True,
    "RATE_LIMIT_REQUESTS": 1000,
    "MAX_CONCURRENT_STREAMS": 10,
    "READ_TIMEOUT_SECONDS": 5.0,
}


@pytest.fixture
def app_url(settings: Any, dev_issuer_on: None, webapp_dist: Path, live_server_url: str) -> str:
    """The whole service (API, chat, page, assets) under uvicorn on loopback, as the quick start runs it:
    development sign-in and the offline development model."""
    settings.WEBAPP = {"DIST_DIR": str(webapp_dist)}
    settings.CHAT = dict(DEV_CHAT)
    return live_server_url


@pytest.fixture
def upstream(settings: Any, app_url: str) -> Iterator[OpenAIServer]:
    """Point the chat endpoint at a scripted OpenAI-compatible server on loopback (for failures)."""
    server = OpenAIServer().start()
    settings.CHAT = {
        **DEV_CHAT,
        "OPENAI_API_KEY": "sk-test-server-side",
        "OPENAI_BASE_URL": server.base_url,
        "MODEL": "test-model",
        "DEV_MODEL": False,
    }
    yield server
    server.stop()


@contextmanager
def launch_chromium(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Headless Debian chromium through Playwright (skips without it); stopped when the block ends."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"chromium not installed at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    # Playwright's sync API keeps an event loop in this thread; Django would take any ORM use here as async.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    playwright = sync_api.sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
    finally:
        # While that loop runs, Django keeps this thread's connections apart from its plain ones (asgiref's
        # context-local storage): close them here, or a connection the test opened outlives the run.
        connections.close_all()
        playwright.stop()


@pytest.fixture
def browser(app_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Headless Debian chromium; one per test, stopped before the test database is flushed."""
    with launch_chromium(monkeypatch) as chromium:
        yield chromium


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    ctx.set_default_timeout(20_000)
    ctx.add_init_script(OBSERVER_SCRIPT)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: Any) -> Any:
    page = context.new_page()
    page.errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    return page


@pytest.fixture
def shot(request: pytest.FixtureRequest):
    """`shot(page, "name")` saves artifacts/web/<test>-<name>.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def _shot(page: Any, name: str) -> Path:
        path = ARTIFACTS / f"{request.node.name}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return _shot
