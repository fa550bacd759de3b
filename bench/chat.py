"""A chat turn through POST /api/chat, as ratios against the same upstream called directly in the same run.

Starts on loopback, each in its own process: an OpenAI-compatible upstream (bench/support/upstream.py,
asyncio by default) and the service (`python -m uvicorn config.asgi:application`, one worker, DEBUG=true so
the development issuer signs the bench's tokens, SQLite file migrated here or PostgreSQL with
--database-url, local-memory cache or --cache-url). Then:
  1. upstream capacity: N direct streams at once against the asyncio upstream and against the tests'
     ThreadingHTTPServer upstream (same bytes, same pauses): which one limits a 500-stream run;
  2. sequential turns, interleaved rounds: time to first byte, to the first `text-delta` and to `[DONE]`,
     service vs direct (`stream=true` to /v1/chat/completions: same deltas, same delay); medians, p95, ratios;
  3. N concurrent streams (default 500), each a new user and a new thread (so thread creation, persistence
     and a title per stream), twice with the same users: errors (non-200, exception, missing [DONE], error
     chunk, wrong text), wall time vs N direct streams, the service's RSS before/peak/after (VmRSS sampled,
     VmHWM) -> memory per stream, CPU per stream; the second round would get 429s if a stream slot leaked
     (one slot per user), and RSS growing round over round would be a leak;
  4. the database afterwards: every assistant message `complete`, every thread titled; service log errors.
The bench client is httpx.AsyncClient in bounded pools of 50 connections (one pool of 500 cost the client more
CPU than the upstream); its own CPU and the kernel's listen-queue overflows are printed next to each burst.

    .venv/bin/python bench/chat.py [--concurrency 500] [--rounds 20] [--deltas 20] [--delay 0.05]
        [--database-url postgres://postgres@127.0.0.1:5432/bench_chat] [--cache-url redis://127.0.0.1:6379/12]
        [--upstream asyncio|threading] [--resumable] [--time-limit 290]

The bench stops itself after --time-limit seconds and stops every process it started, on errors and Ctrl-C too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import logging
import os
import resource
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.test_settings")  # only to import the dev issuer

import django  # noqa: E402

django.setup()
logging.disable(logging.WARNING)  # the test settings log every httpx request of the bench's own client

from bench.support.upstream import delta_texts  # noqa: E402
from chatauth.clerk.devissuer import DevIssuer  # noqa: E402

UPSTREAM_SCRIPT = ROOT / "bench" / "support" / "upstream.py"


class BenchTimeout(Exception):
    """The whole bench ran past --time-limit."""


# --- processes -------------------------------------------------------------------------------------------


def _die_with_parent() -> None:
    """Children get SIGTERM if the bench itself is killed (Linux), so nothing outlives it."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Processes:
    """Every child the bench starts; `stop_all` terminates them (then kills the stubborn ones)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.children: list[subprocess.Popen[bytes]] = []

    def start(
        self, name: str, argv: list[str], env: dict[str, str] | None = None, cwd: Path = ROOT
    ) -> subprocess.Popen[bytes]:
        log = (self.workdir / f"{name}.log").open("wb")  # a file, not a pipe: a full pipe would stall the child
        out = subprocess.PIPE if name.startswith("upstream") else log
        child = subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=out, stderr=log, preexec_fn=_die_with_parent, start_new_session=True
        )
        self.children.append(child)
        return child

    def stop(self, child: subprocess.Popen[bytes]) -> None:
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(5)
        if child.stdout:
            child.stdout.close()

    def stop_all(self) -> None:
        for child in reversed(self.children):
            self.stop(child)
        self.children.clear()


def start_upstream(procs: Processes, kind: str, args: argparse.Namespace) -> tuple[subprocess.Popen[bytes], str]:
    argv = [sys.executable, str(UPSTREAM_SCRIPT), "--kind", kind, "--deltas", str(args.deltas)]
    child = procs.start(f"upstream-{kind}", [*argv, "--delay", str(args.delay)])
    assert child.stdout is not None
    line = child.stdout.readline().decode()  # "listening on http://127.0.0.1:PORT"
    if not line.startswith("listening on "):
        raise RuntimeError(f"the {kind} upstream did not start: {(procs.workdir / f'upstream-{kind}.log').read_text()}")
    return child, line.split()[-1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_up(url: str, child: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise RuntimeError(f"{url} exited: {log.read_text(errors='replace')[-3000:]}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not start")


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS / VmHWM (KiB) and Threads of a process, from /proc."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM", "Threads"):
            out[name] = int(value.split()[0])
    return out


def listen_overflows() -> int:
    """The kernel's count of connections dropped because a listen queue was full (all sockets: a hint, not proof)."""
    lines = [line.split() for line in Path("/proc/net/netstat").read_text().splitlines() if line.startswith("TcpExt:")]
    return int(dict(zip(lines[0], lines[1], strict=True)).get("ListenOverflows", 0)) if len(lines) >= 2 else 0


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def raise_open_files(concurrency: int) -> int:
    """Each stream is a client socket, a server socket and an upstream socket pair: allow them all."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 6 * concurrency + 1024
    if soft < wanted:
        soft = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return soft


# --- database --------------------------------------------------------------------------------------------


def prepare_database(database_url: str | None, workdir: Path) -> tuple[str, Any]:
    """The service's database URL and a function that removes the database (a dedicated one: created here)."""
    if not database_url:
        return f"sqlite:///{workdir / 'bench.sqlite3'}", lambda: None
    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    if not name.startswith("bench_"):
        raise SystemExit(f"--database-url must name a dedicated database starting with bench_ (got {name!r})")
    import psycopg

    admin = urlunsplit(("postgresql", parts.netloc, "/postgres", "", ""))  # the server's maintenance database
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return database_url, drop


DB_CHECK = """
import json, django
django.setup()
from django.db.models import Count, Q
from threads.models import Message, Thread
threads = Thread.unscoped_for_operators.filter(id__startswith="bench_")
print(json.dumps({
    "threads": threads.count(),
    "untitled": threads.filter(Q(title__isnull=True) | Q(title="")).count(),
    "assistant": dict(
        Message.unscoped_for_operators.filter(role="assistant").values_list("status").annotate(n=Count("id"))
    ),
}))
"""


def database_check(env: dict[str, str]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", DB_CHECK], cwd=ROOT, env=env, check=True, capture_output=True, text=True, timeout=60
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- one turn --------------------------------------------------------------------------------------------


@dataclass
class Turn:
    """One streamed reply as the client saw it; times in seconds from sending the request."""

    headers: float = 0.0
    first_byte: float = 0.0
    first_token: float = 0.0
    total: float = 0.0
    text: str = ""
    problems: list[str] = field(default_factory=list)


async def _consume(response: httpx.Response, start: float, token_marker: bytes, turn: Turn) -> bytes:
    """Read the body, timing the first byte, the first token and `[DONE]`; parse nothing while it runs (the
    client shares two cores with the service and the upstream: it must cost as little as possible)."""
    pieces: list[bytes] = []
    tail = b""
    async for piece in response.aiter_raw():
        now = time.perf_counter() - start
        turn.first_byte = turn.first_byte or now
        window = tail + piece
        if not turn.first_token and token_marker in window:
            turn.first_token = now
        if b"data: [DONE]" in window:
            turn.total = now
        tail = piece[-32:]
        pieces.append(piece)
    return b"".join(pieces)


def _events(raw: bytes) -> list[bytes]:
    return [e[6:] for e in raw.split(b"\n\n") if e.startswith(b"data: ")]


async def direct_turn(client: httpx.AsyncClient, upstream: str) -> Turn:
    """The baseline: the same completion streamed from the upstream, no service in between."""
    body = {"model": "bench", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    turn = Turn()
    start = time.perf_counter()
    try:
        async with client.stream("POST", f"{upstream}/v1/chat/completions", json=body) as response:
            turn.headers = time.perf_counter() - start
            if response.status_code != 200:
                turn.problems.append(f"HTTP {response.status_code}")
                return turn
            raw = await _consume(response, start, b'"content": "w', turn)
    except (httpx.HTTPError, OSError) as exc:
        turn.problems.append(type(exc).__name__)
        return turn
    events = _events(raw)
    if not events or events[-1] != b"[DONE]" or not turn.total:
        turn.problems.append("no [DONE]")
    turn.text = "".join(json.loads(e)["choices"][0]["delta"].get("content") or "" for e in events[:-1])
    return turn


async def service_turn(client: httpx.AsyncClient, service: str, token: str, thread_id: str) -> Turn:
    """POST /api/chat as the AI SDK's DefaultChatTransport sends it, a new thread's first message."""
    body = {
        "id": thread_id,
        "trigger": "submit-message",
        "messages": [{"id": f"m_{secrets.token_hex(6)}", "role": "user", "parts": [{"type": "text", "text": "hi"}]}],
    }
    turn = Turn()
    start = time.perf_counter()
    try:
        async with client.stream(
            "POST", f"{service}/api/chat", json=body, headers={"Authorization": f"Bearer {token}"}
        ) as response:
            turn.headers = time.perf_counter() - start
            if response.status_code != 200:
                await response.aread()
                turn.problems.append(f"HTTP {response.status_code} {response.text[:120]}")
                return turn
            raw = await _consume(response, start, b'"text-delta"', turn)
    except (httpx.HTTPError, OSError) as exc:
        turn.problems.append(type(exc).__name__)
        return turn
    events = _events(raw)
    if not events or events[-1] != b"[DONE]" or not turn.total:
        turn.problems.append("no [DONE]")
    for event in events[:-1]:
        chunk = json.loads(event)
        if chunk["type"] == "text-delta":
            turn.text += chunk["delta"]
        elif chunk["type"] == "error":
            turn.problems.append(f"error chunk: {chunk.get('errorText')}")
    return turn


# --- statistics and printing -----------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


def ms(value: float) -> str:
    return f"{value * 1000:8.1f}"


def p50_95(values: list[float]) -> str:
    return f"{pct(values, 0.5) * 1000:.1f}/{pct(values, 0.95) * 1000:.1f}"


def failures(turns: list[Turn], expected: str) -> list[str]:
    out = []
    for turn in turns:
        if turn.problems:
            out.append("; ".join(turn.problems))
        elif turn.text != expected:
            out.append(f"wrong text ({len(turn.text)} chars)")
    return out


def summarize_failures(found: list[str]) -> str:
    counts: dict[str, int] = {}
    for problem in found:
        counts[problem] = counts.get(problem, 0) + 1
    return ", ".join(f"{n}x {p}" for p, n in sorted(counts.items(), key=lambda kv: -kv[1])[:4])


# --- phases ----------------------------------------------------------------------------------------------


POOL_SHARD = 50


class Pool:
    """Bounded connection pools, one connection per stream in flight and no more, in shards of POOL_SHARD.

    One httpx pool of 500 connections costs the client O(connections) per request and per response event
    (httpcore scans its whole pool): measured, the bench client then spent ~15 ms CPU per stream and started the
    last streams seconds late. Shards of 50 keep the client out of the way of what it measures.
    """

    def __init__(self, concurrency: int) -> None:
        shards = max(1, -(-concurrency // POOL_SHARD))
        size = -(-concurrency // shards)
        limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
        self.clients = [httpx.AsyncClient(timeout=httpx.Timeout(90, pool=120), limits=limits) for _ in range(shards)]

    def __getitem__(self, index: int) -> httpx.AsyncClient:
        return self.clients[index % len(self.clients)]

    async def __aenter__(self) -> Pool:
        return self

    async def __aexit__(self, *exc: object) -> None:
        for client in self.clients:
            await client.aclose()


@dataclass
class Load:
    """What a burst cost outside the process under test: the bench client's CPU and the kernel's listen drops."""

    client_cpu: float = 0.0
    overflows: int = 0

    @contextlib.contextmanager
    def measure(self) -> Any:
        cpu, drops = own_cpu(), listen_overflows()
        yield self
        self.client_cpu, self.overflows = own_cpu() - cpu, listen_overflows() - drops

    def __str__(self) -> str:
        return f"bench client CPU {self.client_cpu:.1f} s, listen-queue overflows {self.overflows}"


async def direct_burst(upstream: str, n: int) -> tuple[list[Turn], float, Load]:
    load = Load()
    async with Pool(n) as clients:
        with load.measure():
            start = time.perf_counter()
            turns = await asyncio.gather(*(direct_turn(clients[i], upstream) for i in range(n)))
            wall = time.perf_counter() - start
    return list(turns), wall, load


async def upstream_capacity(upstreams: dict[str, str], n: int, expected: str) -> dict[str, float]:
    """N direct streams at once per upstream kind: the one whose wall time stays near one stream's is not a limit."""
    print(f"1. upstream capacity: {n} direct streams at once")
    walls = {}
    for kind, url in upstreams.items():
        turns, wall, load = await direct_burst(url, n)
        bad = failures(turns, expected)
        ok = [t for t in turns if not t.problems]
        totals = [t.total for t in ok]
        walls[kind] = wall
        print(
            f"   {kind:<10} {n - len(bad)}/{n} ok  wall {wall:6.2f} s  p50/p95 ms: first byte "
            f"{p50_95([t.first_byte for t in ok])}, total {p50_95([t.total for t in ok])}, max {pct(totals, 1):.2f} s;"
            f" {load}" + (f"\n              errors: {summarize_failures(bad)}" if bad else "")
        )
    return walls


async def sequential(args: argparse.Namespace, upstream: str, service: str, token: str, expected: str) -> None:
    """Interleaved rounds (alternating which goes first), so machine noise hits both alike."""
    direct: list[Turn] = []
    through: list[Turn] = []
    async with httpx.AsyncClient(timeout=60) as client:
        for i in range(3):  # warm-up: connections, imports, the first thread and title
            await direct_turn(client, upstream)
            await service_turn(client, service, token, f"bench_seq_warm_{i}")
        for i in range(args.rounds):
            thread_id = f"bench_seq_{i}"
            if i % 2:  # alternate which goes first
                through.append(await service_turn(client, service, token, thread_id))
                direct.append(await direct_turn(client, upstream))
            else:
                direct.append(await direct_turn(client, upstream))
                through.append(await service_turn(client, service, token, thread_id))
    bad = failures(direct, expected) + failures(through, expected)
    print(
        f"2. sequential turns: {args.rounds} interleaved rounds, each a new thread "
        f"({args.deltas} deltas, {args.delay * 1000:.0f} ms apart upstream)"
    )
    print(f"   {'':<26}{'direct p50':>11}{'p95':>9}{'service p50':>13}{'p95':>9}{'ratio p50':>11}{'+ms p50':>9}")
    for name, attr in (
        ("response headers", "headers"),
        ("first byte", "first_byte"),
        ("first text-delta", "first_token"),
        ("total (to [DONE])", "total"),
    ):
        d = [getattr(t, attr) for t in direct if not t.problems]
        s = [getattr(t, attr) for t in through if not t.problems]
        if not d or not s:
            continue
        dm, sm = statistics.median(d), statistics.median(s)
        print(
            f"   {name:<26}{ms(dm):>11}{ms(pct(d, 0.95)):>9}{ms(sm):>13}{ms(pct(s, 0.95)):>9}"
            f"{sm / dm:>10.2f}x{(sm - dm) * 1000:>9.1f}"
        )
    print(f"   problems: {len(bad)}" + (f" ({summarize_failures(bad)})" if bad else ""))


@dataclass
class Burst:
    ok: int
    errors: list[str]
    wall: float
    rss_before: int
    rss_peak: int
    rss_after: int
    threads_peak: int
    cpu: float
    turns: list[Turn]
    load: Load


async def service_burst(service: str, tokens: list[str], pid: int, label: str, expected: str) -> Burst:
    n = len(tokens)
    before = proc_status(pid)
    peak = {"rss": before["VmRSS"], "threads": before["Threads"]}
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.is_set():
            with contextlib.suppress(OSError):
                status = proc_status(pid)
                peak["rss"] = max(peak["rss"], status["VmRSS"])
                peak["threads"] = max(peak["threads"], status["Threads"])
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    cpu = cpu_seconds(pid)
    load = Load()
    try:
        async with Pool(n) as clients:
            with load.measure():
                start = time.perf_counter()
                turns = await asyncio.gather(
                    *(
                        service_turn(clients[i], service, tokens[i], f"bench_{label}_{i}_{secrets.token_hex(3)}")
                        for i in range(n)
                    )
                )
                wall = time.perf_counter() - start
    finally:
        sampling.set()
        sampler.join()
    cpu = cpu_seconds(pid) - cpu
    await asyncio.sleep(1.0)  # responses closed; let the event loop finish its bookkeeping before "after"
    after = proc_status(pid)
    hwm_grew = after["VmHWM"] > before["VmHWM"]
    rss_peak = max(peak["rss"], after["VmHWM"] if hwm_grew else 0)
    bad = failures(list(turns), expected)
    return Burst(
        n - len(bad), bad, wall, before["VmRSS"], rss_peak, after["VmRSS"], peak["threads"], cpu, list(turns), load
    )


async def concurrent(
    args: argparse.Namespace, upstream: str, service: str, tokens: list[str], pid: int, upstream_pid: int, expected: str
) -> None:
    n = len(tokens)
    upstream_cpu = cpu_seconds(upstream_pid)
    direct, direct_wall, direct_load = await direct_burst(upstream, n)
    upstream_cpu = (cpu_seconds(upstream_pid) - upstream_cpu) / n
    direct_bad = failures(direct, expected)
    print(f"3. {n} concurrent streams, each a new user and a new thread (one stream slot per user)")
    print(f"   direct         {n - len(direct_bad)}/{n} ok  wall {direct_wall:6.2f} s; {direct_load}")
    for label in ("r1", "r2"):
        burst = await service_burst(service, tokens, pid, label, expected)
        ok = [t for t in burst.turns if not t.problems]
        print(
            f"   service {label}     {burst.ok}/{n} ok, {len(burst.errors)} errors  wall {burst.wall:6.2f} s"
            f"  ratio {burst.wall / direct_wall:5.2f}x; {burst.load}"
        )
        if burst.errors:
            print(f"     errors: {summarize_failures(burst.errors)}")
        if ok:
            print(
                f"     under load p50/p95 ms: first byte {p50_95([t.first_byte for t in ok])},"
                f" first text-delta {p50_95([t.first_token for t in ok])}, total {p50_95([t.total for t in ok])}"
                f" (direct total {p50_95([t.total for t in direct if not t.problems])})"
            )
        print(
            f"     service RSS {burst.rss_before / 1024:.1f} MiB before, {burst.rss_peak / 1024:.1f} MiB peak,"
            f" {burst.rss_after / 1024:.1f} MiB after: {(burst.rss_peak - burst.rss_before) / n:.1f} KiB per stream"
            f" (peak), {(burst.rss_after - burst.rss_before) / n:+.1f} KiB per stream kept; threads peak"
            f" {burst.threads_peak}"
        )
        print(
            f"     CPU per stream: service {burst.cpu / n * 1000:.2f} ms (thread, messages and title included),"
            f" upstream {upstream_cpu * 1000:.2f} ms"
        )


# --- main ------------------------------------------------------------------------------------------------


def service_env(args: argparse.Namespace, workdir: Path, database_url: str, upstream: str) -> dict[str, str]:
    dropped = ("CLERK_", "CHAT_", "OPENAI_", "DJANGO_", "DATABASE_", "CACHE_", "LOG_", "REDIS_")
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    return {
        **{k: v for k, v in inherited.items() if k not in ("DEBUG", "SECRET_KEY", "ALLOWED_HOSTS")},
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "true" if args.debug else "false",
        # DEBUG on turns the development issuer on; with it off (production-like) it has to be forced.
        **({} if args.debug else {"CLERK_DEV_ISSUER": "force", "ALLOWED_HOSTS": "127.0.0.1"}),
        "SECRET_KEY": "bench-only-" + secrets.token_hex(24),
        "DATABASE_URL": database_url,
        "CACHE_URL": args.cache_url,
        "CLERK_DEV_KEY_FILE": str(workdir / "dev_issuer_key.pem"),
        "OPENAI_API_KEY": "x",
        "OPENAI_BASE_URL": f"{upstream}/v1",
        "CHAT_MODEL": "bench",
        # The connection-owned path by default; --resumable: the server owns each generation (Redis logs + readers).
        "CHAT_RESUMABLE": "true" if args.resumable else "false",
        **({"CHAT_REDIS_URL": args.cache_url} if args.resumable else {}),
        "CHAT_RATE_LIMIT_REQUESTS": "1000000",
        "CHAT_MAX_CONCURRENT_STREAMS": str(args.slots_per_user),
        "CHAT_READ_TIMEOUT_SECONDS": "90",
        "LOG_LEVEL": "WARNING",
    }


def run(args: argparse.Namespace, procs: Processes, workdir: Path) -> None:
    nofile = raise_open_files(args.concurrency)  # before any child starts: they inherit it
    expected = "".join(delta_texts(args.deltas))
    database_url, drop_database = prepare_database(args.database_url, workdir)
    try:
        upstream_proc, upstream = start_upstream(procs, args.upstream, args)
        env = service_env(args, workdir, database_url, upstream)
        subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=120)
        issuer = DevIssuer(env["CLERK_DEV_KEY_FILE"])  # creates the key file the service verifies with
        run_id = secrets.token_hex(3)  # fresh users per run: a shared Redis cache may hold an earlier run's keys
        tokens = [issuer.mint(f"user_bench_{run_id}_{i}", ttl=3600) for i in range(args.concurrency)]
        seq_token = issuer.mint(f"user_bench_{run_id}_sequential", ttl=3600)
        port = free_port()
        service = f"http://127.0.0.1:{port}"
        uvicorn = [sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1"]
        server = procs.start(
            "service",
            [*uvicorn, "--port", str(port), "--log-level", "warning", "--no-access-log", "--backlog", "4096"],
            env=env,
        )
        wait_up(f"{service}/healthz", server, workdir / "service.log")
        engine = "PostgreSQL" if args.database_url else "SQLite"
        print(
            f"service: uvicorn, 1 worker, DEBUG={args.debug}, {engine}, cache {args.cache_url.split(':')[0]};"
            f" resumable {args.resumable}; upstream: {args.upstream};"
            f" open files {nofile}; {os.cpu_count()} CPUs"
        )

        other = "threading" if args.upstream == "asyncio" else "asyncio"
        other_proc, other_url = start_upstream(procs, other, args)
        try:
            asyncio.run(upstream_capacity({args.upstream: upstream, other: other_url}, args.concurrency, expected))
        finally:
            procs.stop(other_proc)
            procs.children.remove(other_proc)
        asyncio.run(sequential(args, upstream, service, seq_token, expected))
        asyncio.run(concurrent(args, upstream, service, tokens, server.pid, upstream_proc.pid, expected))

        checked = database_check(env)
        assistant = checked["assistant"]
        not_complete = {k: v for k, v in assistant.items() if k != "complete"}
        print(
            f"4. database: {checked['threads']} bench threads, {checked['untitled']} untitled;"
            f" assistant messages {assistant.get('complete', 0)} complete"
            + (f", NOT complete: {not_complete}" if not_complete else ", none left in progress")
        )
        log = (workdir / "service.log").read_text(errors="replace").splitlines()
        errors = [line for line in log if "ERROR" in line or "Traceback" in line or "locked" in line]
        print(f"   service log: {len(errors)} error lines" + (f"; last: {errors[-1][:300]}" if errors else ""))
    finally:
        procs.stop_all()
        drop_database()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, default=500, help="streams at once (default 500)")
    parser.add_argument("--rounds", type=int, default=20, help="sequential interleaved rounds (default 20)")
    parser.add_argument("--deltas", type=int, default=20, help="content deltas per reply (default 20)")
    parser.add_argument("--delay", type=float, default=0.05, help="seconds after each upstream event (default 0.05)")
    parser.add_argument("--database-url", help="PostgreSQL URL of a dedicated bench_* database, created and dropped")
    parser.add_argument("--cache-url", default="locmemcache://", help="the service's CACHE_URL (default locmem)")
    parser.add_argument("--upstream", choices=("asyncio", "threading"), default="asyncio")
    parser.add_argument(
        "--resumable", action="store_true", help="CHAT_RESUMABLE=true (needs a redis:// --cache-url): production mode"
    )
    parser.add_argument("--slots-per-user", type=int, default=1, help="CHAT_MAX_CONCURRENT_STREAMS (default 1)")
    parser.add_argument(
        "--no-debug", dest="debug", action="store_false", help="DEBUG=false (dev issuer forced): what DEBUG costs"
    )
    parser.add_argument("--time-limit", type=int, default=290, help="seconds before the bench stops itself")
    parser.add_argument("--keep-workdir", action="store_true", help="keep the temp dir (logs, SQLite file)")
    args = parser.parse_args()
    if args.resumable and not args.cache_url.startswith("redis://"):
        parser.error("--resumable needs a redis:// --cache-url")

    def on_alarm(*_: Any) -> None:
        raise BenchTimeout(f"the bench ran past --time-limit {args.time_limit} s")

    def on_term(*_: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, on_term)
    signal.alarm(args.time_limit)
    workdir = Path(tempfile.mkdtemp(prefix="bench-chat-"))
    procs = Processes(workdir)
    started = time.monotonic()
    try:
        run(args, procs, workdir)
    except (BenchTimeout, KeyboardInterrupt) as exc:
        print(f"stopped: {str(exc) or type(exc).__name__} (logs in {workdir})", file=sys.stderr)
        args.keep_workdir = True
        sys.exit(1)
    finally:
        signal.alarm(0)
        procs.stop_all()
        if args.keep_workdir:
            print(f"workdir: {workdir}")
        else:
            for path in sorted(workdir.rglob("*"), reverse=True):
                path.unlink() if path.is_file() else path.rmdir()
            workdir.rmdir()
    print(f"bench wall time: {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
