"""The admin's CSS and JS are served by the service itself (WhiteNoise), over real HTTP with DEBUG off.

Two set-ups: the test settings (files straight from the apps, as under `make run`), and a production worker
(`config.settings`, DEBUG off) after `collectstatic`, serving hashed, compressed, forever-cacheable copies.
"""

from __future__ import annotations

import gzip
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import django
import httpx
import pytest
from django.conf import settings

from tests.support.paths import ROOT
from tests.support.workers import Worker, worker_env

STYLESHEET = re.compile(r'<link rel="stylesheet" href="([^"]+)">')


def stylesheets(html: str) -> list[str]:
    return STYLESHEET.findall(html)


def test_debug_is_off_in_these_tests():
    assert settings.DEBUG is False


def test_admin_login_page_css_is_served_without_collectstatic(live_server_url):
    page = httpx.get(f"{live_server_url}/admin/login/", timeout=10)
    assert page.status_code == 200
    sheets = stylesheets(page.text)
    assert "/static/admin/css/base.css" in sheets
    for href in sheets:
        css = httpx.get(f"{live_server_url}{href}", timeout=10)
        assert css.status_code == 200, href
        assert css.headers["content-type"].startswith("text/css")
        assert int(css.headers["content-length"]) == len(css.content) > 0
    base = httpx.get(f"{live_server_url}/static/admin/css/base.css", timeout=10)
    assert base.content == (Path(django.__file__).parent / "contrib/admin/static/admin/css/base.css").read_bytes()


def test_head_range_and_missing_files(live_server_url):
    url = f"{live_server_url}/static/admin/css/base.css"
    head = httpx.head(url, timeout=10)
    assert head.status_code == 200 and head.content == b"" and int(head.headers["content-length"]) > 0
    part = httpx.get(url, headers={"Range": "bytes=0-9"}, timeout=10)
    assert part.status_code == 206 and len(part.content) == 10
    assert httpx.get(f"{live_server_url}/static/admin/css/nope.css", timeout=10).status_code == 404


def test_admin_javascript_is_served_too(live_server_url):
    js = httpx.get(f"{live_server_url}/static/admin/js/core.js", timeout=10)
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]


@pytest.fixture(scope="module")
def production_worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    """A worker as in production: `collectstatic` into STATIC_ROOT, then uvicorn with DEBUG off."""
    tmp = tmp_path_factory.mktemp("static-prod")
    env = worker_env(
        STATIC_ROOT=str(tmp / "static"),
        DATABASE_URL=f"sqlite:///{tmp / 'db.sqlite3'}",
        CLERK_JWKS_URL="http://127.0.0.1:9/never-fetched.json",
    )
    collected = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert collected.returncode == 0, collected.stderr
    worker = Worker(env).wait_ready()
    yield worker
    worker.stop()


def test_production_admin_css_is_hashed_compressed_and_cached_forever(production_worker):
    page = httpx.get(f"{production_worker.url}/admin/login/", timeout=10)
    assert page.status_code == 200, production_worker.output()
    (base,) = [href for href in stylesheets(page.text) if "/admin/css/base." in href]
    assert re.fullmatch(r"/static/admin/css/base\.[0-9a-f]{12}\.css", base)
    css = httpx.get(f"{production_worker.url}{base}", headers={"Accept-Encoding": "identity"}, timeout=10)
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert "immutable" in css.headers["cache-control"]
    zipped = httpx.get(f"{production_worker.url}{base}", headers={"Accept-Encoding": "gzip"}, timeout=10)
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.content == css.content  # httpx decodes: the same stylesheet
    with httpx.stream("GET", f"{production_worker.url}{base}", headers={"Accept-Encoding": "gzip"}) as raw:
        assert gzip.decompress(b"".join(raw.iter_raw())) == css.content
    # The unhashed name works too (short cache), for anything that links to it directly.
    plain = httpx.get(f"{production_worker.url}/static/admin/css/base.css", timeout=10)
    assert plain.status_code == 200 and "immutable" not in plain.headers.get("cache-control", "")
