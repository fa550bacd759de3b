"""Prometheus metrics: the instruments, and the small API the rest of the service calls.

Import nothing of the project's own here, so any module (chatauth, threads, threads.chat) can call
`config.metrics.<function>()` without an import cycle. Every function is cheap and never raises.

With `PROMETHEUS_MULTIPROC_DIR` set (before the process starts), prometheus-client keeps every value in
memory-mapped files in that directory, one set per process, and `/metrics` adds up all processes' files: the
numbers are right whichever uvicorn worker answers the scrape. Without it each process has its own registry
(fine for one worker). See the README, "Metrics".
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess

P = ParamSpec("P")
R = TypeVar("R")

MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_FIRST_TOKEN_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0)
_STREAM_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0)

HTTP_REQUESTS = Counter(
    "http_requests",
    "HTTP requests answered, by URL route (the pattern, never the raw path), method and status.",
    ["route", "method", "status"],
)
HTTP_DURATION = Histogram(
    "http_request_duration_seconds",
    "Time until the response (for a stream: until its headers), by URL route and method.",
    ["route", "method"],
    buckets=_LATENCY_BUCKETS,
)
CHAT_STREAMS = Counter("chat_streams_started", "Chat streams (model generations) started.")
CHAT_STREAMS_ACTIVE = Gauge(
    "chat_streams_active", "Chat streams in progress, across live worker processes.", multiprocess_mode="livesum"
)
CHAT_STREAM_DURATION = Histogram(
    "chat_stream_duration_seconds", "Duration of a finished chat stream.", buckets=_STREAM_BUCKETS
)
CHAT_FIRST_TOKEN = Histogram(
    "chat_first_token_seconds", "Time from the chat request to the model's first token.", buckets=_FIRST_TOKEN_BUCKETS
)
CHAT_UPSTREAM_ERRORS = Counter("chat_upstream_errors", "Errors from the model provider, by kind.", ["kind"])
CHAT_TOKENS = Counter("chat_tokens", "Model tokens, by direction (input, output).", ["direction"])
RATE_LIMITED = Counter("rate_limited", "Requests refused by a rate limit, by scope.", ["scope"])
REDIS_POOL_WAIT = Histogram(
    "chat_redis_pool_wait_seconds",
    "Time a chat Redis command waited for a pooled connection (only commands that had to wait), by outcome.",
    ["outcome"],
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
JWKS_FETCHES = Counter("jwks_fetches", "JWKS fetches from an issuer, by outcome (ok, error).", ["outcome"])

_LABEL_UNSAFE = re.compile(r"[^a-z0-9_.:-]+")


def _label(value: object) -> str:
    """A short, tame label value: callers pass a small fixed vocabulary; anything else cannot blow up the series."""
    text = _LABEL_UNSAFE.sub("_", str(value).lower())[:40]
    return text or "unknown"


def _count(value: object) -> int:
    try:
        return max(0, int(value))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return 0


def _seconds(value: object) -> float | None:
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return seconds if seconds >= 0 else None


# --- The API other code calls ------------------------------------------------------------------------------------


def request_observed(route: str, method: str, status: int, duration: float) -> None:
    """One HTTP request (called by `config.metrics_http.MetricsMiddleware`)."""
    method = method if method in _METHODS else "other"
    HTTP_REQUESTS.labels(route, method, str(status)).inc()
    seconds = _seconds(duration)
    if seconds is not None:
        HTTP_DURATION.labels(route, method).observe(seconds)


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def stream_started() -> None:
    """A chat generation began (call once per generation, paired with `stream_finished`)."""
    CHAT_STREAMS.inc()
    CHAT_STREAMS_ACTIVE.inc()


def stream_finished(duration: float) -> None:
    """The generation started by `stream_started` ended (any outcome), after `duration` seconds."""
    CHAT_STREAMS_ACTIVE.dec()
    seconds = _seconds(duration)
    if seconds is not None:
        CHAT_STREAM_DURATION.observe(seconds)


def first_token(seconds: float) -> None:
    """Seconds from the chat request to the first token of the model's reply."""
    value = _seconds(seconds)
    if value is not None:
        CHAT_FIRST_TOKEN.observe(value)


def upstream_error(kind: str) -> None:
    """A model-provider failure: `kind` from a small fixed set, e.g. timeout, connection, status_429, status_5xx."""
    CHAT_UPSTREAM_ERRORS.labels(_label(kind)).inc()


def tokens(input: int, output: int) -> None:
    """Token usage reported by the model for one generation."""
    if (n := _count(input)) > 0:
        CHAT_TOKENS.labels("input").inc(n)
    if (n := _count(output)) > 0:
        CHAT_TOKENS.labels("output").inc(n)


def rate_limited(scope: str) -> None:
    """A request refused by a limit: `scope` such as chat_requests, chat_streams."""
    RATE_LIMITED.labels(_label(scope)).inc()


def redis_pool_wait(seconds: float, timed_out: bool = False) -> None:
    """A chat Redis command found every pooled connection busy and waited `seconds` (and then got one, or not)."""
    value = _seconds(seconds)
    if value is not None:
        REDIS_POOL_WAIT.labels("timeout" if timed_out else "ok").observe(value)


def jwks_fetch(outcome: str) -> None:
    """A JWKS fetch from an issuer: outcome ok or error."""
    JWKS_FETCHES.labels(_label(outcome)).inc()


def counts_jwks_fetch(fetch: Callable[P, R]) -> Callable[P, R]:
    """Decorator for a function that fetches a JWKS: counts `ok` when it returns, `error` when it raises."""

    @functools.wraps(fetch)
    def counted(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            result = fetch(*args, **kwargs)
        except Exception:
            jwks_fetch("error")
            raise
        jwks_fetch("ok")
        return result

    return counted


# --- Exposition --------------------------------------------------------------------------------------------------


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_DIR_ENV) or None


def _forget_dead_processes(path: str) -> None:
    """Drop live-gauge files of worker processes that are gone (uvicorn has no child-exit hook to do it), so a
    crashed worker's in-progress streams stop counting. Their counters and histograms stay: totals never go back."""
    pids: set[int] = set()
    for name in os.listdir(path):
        match = re.fullmatch(r"gauge_live\w*?_(\d+)\.db", name)
        if match:
            pids.add(int(match.group(1)))
    for pid in pids - {os.getpid()}:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, path)
        except PermissionError:
            pass  # alive, owned by someone else


def exposition() -> bytes:
    """All metrics in the Prometheus text format: every process's in multiprocess mode, else this process's."""
    path = multiprocess_dir()
    if path is None:
        return generate_latest(REGISTRY)
    _forget_dead_processes(path)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=path)
    return generate_latest(registry)
