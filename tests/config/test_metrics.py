"""Prometheus metrics at /metrics: token-protected, by route, and right across worker processes."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from config import metrics
from tests.conftest import ISSUER
from tests.support.keys import session_claims
from tests.support.paths import ROOT
from tests.support.workers import Worker, worker_env, worker_pair

TOKEN = "metrics-test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, tuple(sorted(labels.items()))), 0.0)


def scrape(base: str) -> str:
    response = httpx.get(f"{base}/metrics", headers=AUTH, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return response.text


@pytest.fixture
def metrics_on(settings) -> None:
    settings.METRICS = {"TOKEN": TOKEN}


def test_metrics_are_off_without_a_token(live_server_url):
    response = httpx.get(f"{live_server_url}/metrics", headers=AUTH, timeout=10)
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token-wrong-token-wrong-token"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
    ],
)
def test_metrics_refuse_a_missing_or_wrong_token(metrics_on, live_server_url, headers):
    response = httpx.get(f"{live_server_url}/metrics", headers=headers, timeout=10)
    assert response.status_code == 401
    body = response.json()
    assert body["error"] == "metrics_unauthorized" and body["message"]
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "http_requests_total" not in response.text


def test_only_get_and_head(metrics_on, live_server_url):
    response = httpx.post(f"{live_server_url}/metrics", headers=AUTH, timeout=10)
    assert response.status_code == 405 and response.json()["error"] == "method_not_allowed"


def test_requests_are_counted_by_route_and_status_never_by_raw_path(metrics_on, live_server_url):
    before = scrape(live_server_url)
    for _ in range(3):
        assert httpx.get(f"{live_server_url}/healthz", timeout=10).status_code == 200
    thread_id = "thr_not_a_real_one_12345"
    assert httpx.get(f"{live_server_url}/api/threads/{thread_id}", timeout=10).status_code == 401
    assert httpx.get(f"{live_server_url}/no/such/page", timeout=10).status_code == 404
    after = scrape(live_server_url)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("http_requests_total", route="healthz", method="GET", status="200") == 3
    assert delta("http_request_duration_seconds_count", route="healthz", method="GET") == 3
    thread_routes = [
        dict(labels)["route"]
        for (name, labels), v in samples(after).items()
        if name == "http_requests_total" and dict(labels)["status"] == "401" and "api/threads/" in dict(labels)["route"]
    ]
    assert thread_routes and all("<" in route for route in thread_routes), thread_routes
    assert thread_id not in after and "no/such/page" not in after
    assert delta("http_requests_total", route="unresolved", method="GET", status="404") == 1
    assert value(after, "http_requests_total", route="metrics", method="GET", status="200") >= 1


def test_the_api_other_code_calls(metrics_on, live_server_url):
    before = scrape(live_server_url)
    metrics.stream_started()
    metrics.stream_started()
    metrics.stream_finished(2.5)
    metrics.first_token(0.3)
    metrics.upstream_error("timeout")
    metrics.tokens(input=120, output=30)
    metrics.tokens(input=-5, output="junk")  # type: ignore[arg-type]  # ignored, never raises
    metrics.rate_limited("chat_requests")
    metrics.jwks_fetch("ok")
    metrics.upstream_error("Status 502 <html>" * 10)  # tamed into a short label
    after = scrape(live_server_url)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("chat_streams_started_total") == 2
    assert delta("chat_streams_active") == 1
    assert delta("chat_stream_duration_seconds_count") == 1
    assert delta("chat_stream_duration_seconds_sum") == 2.5
    assert delta("chat_first_token_seconds_count") == 1
    assert delta("chat_upstream_errors_total", kind="timeout") == 1
    assert delta("chat_tokens_total", direction="input") == 120
    assert delta("chat_tokens_total", direction="output") == 30
    assert delta("rate_limited_total", scope="chat_requests") == 1
    assert delta("jwks_fetches_total", outcome="ok") == 1
    kinds = [dict(labels)["kind"] for (name, labels) in samples(after) if name == "chat_upstream_errors_total"]
    assert all(len(kind) <= 40 and "<" not in kind for kind in kinds)
    metrics.stream_finished(1.0)


def test_jwks_fetches_are_counted(metrics_on, clerk_jwks, signing_key, live_server_url):
    before = scrape(live_server_url)
    token = signing_key.sign(session_claims(sub="user_alice", issuer=ISSUER))
    me = httpx.get(f"{live_server_url}/api/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert me.status_code == 200, me.text
    after = scrape(live_server_url)
    assert value(after, "jwks_fetches_total", outcome="ok") - value(before, "jwks_fetches_total", outcome="ok") == 1


def test_failed_jwks_fetches_are_counted(metrics_on, clerk_jwks, signing_key, live_server_url):
    clerk_jwks.stop()  # the issuer is down
    before = scrape(live_server_url)
    token = signing_key.sign(session_claims(sub="user_alice", issuer=ISSUER))
    me = httpx.get(f"{live_server_url}/api/me", headers={"Authorization": f"Bearer {token}"}, timeout=20)
    assert me.status_code == 401
    after = scrape(live_server_url)
    errors = value(after, "jwks_fetches_total", outcome="error") - value(before, "jwks_fetches_total", outcome="error")
    assert errors == 1


# --- Multiprocess mode ---------------------------------------------------------------------------------------------


@pytest.fixture
def multiproc_dir(tmp_path) -> str:
    path = tmp_path / "prometheus"
    path.mkdir()
    return str(path)


@pytest.fixture
def two_workers(tmp_path, multiproc_dir) -> Iterator[tuple[Worker, Worker]]:
    env = worker_env(
        METRICS_TOKEN=TOKEN,
        PROMETHEUS_MULTIPROC_DIR=multiproc_dir,
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        CLERK_JWKS_URL="http://127.0.0.1:9/never-fetched.json",
    )
    with worker_pair(env) as pair:
        yield pair


def test_every_worker_reports_the_sum_over_all_workers(two_workers):
    a, b = two_workers
    before = scrape(a.url)
    for _ in range(2):
        httpx.get(f"{a.url}/healthz", timeout=10)
    for _ in range(3):
        httpx.get(f"{b.url}/healthz", timeout=10)
    healthz = {"route": "healthz", "method": "GET", "status": "200"}
    for worker in (a, b):
        text = scrape(worker.url)
        assert value(text, "http_requests_total", **healthz) - value(before, "http_requests_total", **healthz) == 5
        assert value(text, "http_request_duration_seconds_count", route="healthz", method="GET") >= 5


def _process(code: str, multiproc_dir: str) -> subprocess.Popen:
    env = {"PATH": os.environ["PATH"], "PROMETHEUS_MULTIPROC_DIR": multiproc_dir, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)


def test_a_dead_workers_streams_stop_counting_as_active_but_its_totals_stay(multiproc_dir, monkeypatch):
    dead = _process("from config import metrics; metrics.stream_started(); metrics.stream_started()", multiproc_dir)
    assert dead.wait(30) == 0  # gone without finishing its streams, like a SIGKILLed worker
    alive = _process(
        "import time; from config import metrics; metrics.stream_started(); print('ready', flush=True); time.sleep(60)",
        multiproc_dir,
    )
    try:
        assert alive.stdout.readline().strip() == "ready"
        monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", multiproc_dir)
        text = metrics.exposition().decode()
        assert value(text, "chat_streams_active") == 1
        assert value(text, "chat_streams_started_total") == 3
        assert not [f for f in os.listdir(multiproc_dir) if f.startswith("gauge_livesum") and str(dead.pid) in f]
    finally:
        alive.kill()
        alive.wait()


def test_a_short_metrics_token_refuses_to_start():
    result = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; settings.METRICS"],
        cwd=ROOT,
        env=worker_env(DEBUG="true", METRICS_TOKEN="short"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and "METRICS_TOKEN must be at least 24 characters" in result.stderr
