"""The chat endpoint's overhead and capacity, as ratios against the same upstream called directly in the same run.

Starts, on loopback, an OpenAI-compatible streaming upstream (uvicorn, its own process) and the service
(uvicorn running config.asgi, its own process, PostgreSQL database `chat_bench` created and dropped here,
or SQLite with --sqlite; Redis cache when reachable), then measures:
  - sequential turns: time to first byte, to first text token and to the end of the stream, through
    POST /api/chat vs streaming from the upstream directly (medians, ratios service/direct);
  - N concurrent streams (default 500), each a new user and a new thread (so persistence and titles
    included): all must end in [DONE] with the full text and no error chunk; wall time vs the same N
    streams called directly;
  - memory per stream: peak RSS of the service process during the concurrent run minus its RSS before, / N.

    .venv/bin/python bench/chat.py [--streams 500] [--rounds 30] [--deltas 20] [--delay 0.05] [--sqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_BENCH_DB = "chat_bench"
REDIS_URL = "redis://127.0.0.1:6379/12"


# --- the upstream: a minimal OpenAI-compatible streaming server (run as `bench/chat.py --serve-upstream`) ---


def upstream_app(deltas: int, delay: float) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        request = json.loads(body or b"{}")
        if not request.get("stream"):
            payload = json.dumps(
                {
                    "id": "cmpl-bench",
                    "object": "chat.completion",
                    "created": 0,
                    "model": request.get("model"),
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": "Bench title"},
                            "finish_reason": "stop",
                        }
                    ],
                }
            ).encode()
            await send(
                {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]}
            )
            await send({"type": "http.response.body", "body": payload})
            return

        def event(delta: dict[str, Any], finish: str | None = None) -> bytes:
            chunk = {
                "id": "chatcmpl-bench",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": request.get("model"),
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            return b"data: " + json.dumps(chunk).encode() + b"\n\n"

        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        await send(
            {"type": "http.response.body", "body": event({"role": "assistant", "content": ""}), "more_body": True}
        )
        for i in range(deltas):
            await asyncio.sleep(delay)
            await send({"type": "http.response.body", "body": event({"content": f" w{i}"}), "more_body": True})
        await send({"type": "http.response.body", "body": event({}, "stop") + b"data: [DONE]\n\n"})

    return app


def serve_upstream(port: int, deltas: int, delay: float) -> None:
    import uvicorn

    uvicorn.run(upstream_app(deltas, delay), host="127.0.0.1", port=port, log_level="warning", lifespan="off")


# --- processes ---


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited: {log.read_text()[-2000:]}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not start")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def redis_up() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except Exception:
        return False


def prepare_database(use_sqlite: bool, workdir: Path) -> tuple[str, Any]:
    """A database URL for the service, and a function that removes the database afterwards."""
    if use_sqlite:
        return f"sqlite:///{workdir / 'bench.sqlite3'}", lambda: None
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_BENCH_DB}")
        conn.execute(f"CREATE DATABASE {PG_BENCH_DB}")

    def drop() -> None:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {PG_BENCH_DB} WITH (FORCE)")

    return f"postgres://postgres@127.0.0.1:5432/{PG_BENCH_DB}", drop


# --- clients ---


async def _read(response: httpx.Response, start: float, token_marker: bytes) -> tuple[float, float, bytes]:
    """(time to first byte, time to first token, body), parsing nothing while the stream runs (the client
    shares the CPU with the service: it should cost as little as possible)."""
    ttfb = first = 0.0
    pieces: list[bytes] = []
    async for piece in response.aiter_raw():
        now = time.perf_counter() - start
        ttfb = ttfb or now
        if not first and token_marker in piece:
            first = now
        pieces.append(piece)
    return ttfb, first, b"".join(pieces)


async def stream_direct(client: httpx.AsyncClient, url: str) -> tuple[float, float, float, str]:
    """(ttfb, first token, total, text) streaming from the upstream directly."""
    body = {"model": "bench", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    start = time.perf_counter()
    async with client.stream("POST", f"{url}/v1/chat/completions", json=body) as response:
        ttfb, first, raw = await _read(response, start, b'"content": " ')
    total = time.perf_counter() - start
    text = ""
    for event in raw.split(b"\n\n"):
        if event.startswith(b"data: {"):
            text += json.loads(event[6:])["choices"][0]["delta"].get("content") or ""
    return ttfb, first, total, text


async def stream_service(
    client: httpx.AsyncClient, url: str, token: str, thread_id: str
) -> tuple[float, float, float, str, list[str]]:
    """(ttfb, first token, total, text, problems) through POST /api/chat."""
    body = {
        "id": thread_id,
        "trigger": "submit-message",
        "messages": [{"id": f"m_{secrets.token_hex(6)}", "role": "user", "parts": [{"type": "text", "text": "hi"}]}],
    }
    start = time.perf_counter()
    async with client.stream(
        "POST", f"{url}/api/chat", json=body, headers={"Authorization": f"Bearer {token}"}
    ) as response:
        if response.status_code != 200:
            await response.aread()
            return 0, 0, 0, "", [f"HTTP {response.status_code}: {response.text[:200]}"]
        ttfb, first, raw = await _read(response, start, b'"text-delta"')
    total = time.perf_counter() - start
    problems: list[str] = []
    text = ""
    events = [e for e in raw.split(b"\n\n") if e.startswith(b"data: ")]
    if not events or events[-1] != b"data: [DONE]":
        problems.append("no [DONE]")
    for event in events[:-1]:
        chunk = json.loads(event[6:])
        if chunk["type"] == "text-delta":
            text += chunk["delta"]
        elif chunk["type"] == "error":
            problems.append(f"error chunk: {chunk['errorText']}")
    return ttfb, first, total, text, problems


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


async def sequential(args: argparse.Namespace, upstream: str, service: str, token: str, expected: str) -> None:
    async with httpx.AsyncClient(timeout=60) as client:
        await stream_service(client, service, token, "bench_seq")  # warm-up; creates and titles the thread
        await stream_direct(client, upstream)
        direct, through = [], []
        for _ in range(args.rounds):
            direct.append(await stream_direct(client, upstream))
            through.append(await stream_service(client, service, token, "bench_seq"))
    problems = [p for r in through for p in r[4]] + ["wrong text" for r in direct + through if r[3] != expected]
    print(f"sequential turns ({args.rounds} rounds, {args.deltas} deltas x {args.delay * 1000:.0f} ms upstream)")
    for index, name in ((0, "time to first byte"), (1, "time to first token"), (2, "total time")):
        d, s = median_ms([r[index] for r in direct]), median_ms([r[index] for r in through])
        print(f"  {name:<20} direct {d:8.2f} ms   service {s:8.2f} ms   ratio {s / d:6.2f}   (+{s - d:.2f} ms)")
    print(f"  problems: {len(problems)} {problems[:3] if problems else ''}")


async def concurrent(
    args: argparse.Namespace,
    upstream: str,
    service: str,
    tokens: list[str],
    expected: str,
    server_pid: int,
    upstream_pid: int,
) -> None:
    limits = httpx.Limits(max_connections=args.streams + 10, max_keepalive_connections=args.streams + 10)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        upstream_cpu = cpu_seconds(upstream_pid)
        start = time.perf_counter()
        direct = await asyncio.gather(*(stream_direct(client, upstream) for _ in range(args.streams)))
        direct_wall = time.perf_counter() - start
        upstream_cpu = cpu_seconds(upstream_pid) - upstream_cpu
        direct_bad = sum(r[3] != expected for r in direct)

        baseline = rss_kib(server_pid)
        peak = baseline
        sampling = True

        def sample() -> None:
            nonlocal peak
            while sampling:
                peak = max(peak, rss_kib(server_pid))
                time.sleep(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        service_cpu = cpu_seconds(server_pid)
        start = time.perf_counter()
        results = await asyncio.gather(
            *(
                stream_service(client, service, tokens[i], f"bench_c_{i}_{secrets.token_hex(3)}")
                for i in range(args.streams)
            ),
            return_exceptions=True,
        )
        wall = time.perf_counter() - start
        service_cpu = cpu_seconds(server_pid) - service_cpu
        sampling = False
        sampler.join()
    failures: list[str] = []
    for r in results:
        if isinstance(r, BaseException):
            failures.append(f"{type(r).__name__}: {r}")
        elif r[4] or r[3] != expected:
            failures.append("; ".join(r[4]) or "wrong text")
    ok = args.streams - len(failures)
    print(f"concurrent streams ({args.streams} at once, each a new user and thread)")
    print(f"  direct   {args.streams - direct_bad}/{args.streams} ok   wall {direct_wall:6.2f} s")
    print(f"  service  {ok}/{args.streams} ok   wall {wall:6.2f} s   ratio {wall / direct_wall:5.2f}")
    if failures:
        print(f"  failures (first 3 of {len(failures)}): {failures[:3]}")
    ttfbs = [r[0] for r in results if not isinstance(r, BaseException) and not r[4]]
    if ttfbs:
        print(
            f"  service time to first byte under load: median {median_ms(ttfbs):.1f} ms, max {max(ttfbs) * 1000:.1f} ms"
        )
    per_up, per_svc = upstream_cpu / args.streams * 1000, service_cpu / args.streams * 1000
    print(
        f"  CPU per stream: service {per_svc:.2f} ms (persistence and a title included),"
        f" upstream {per_up:.2f} ms; ratio {per_svc / per_up:.1f}"
    )
    print(
        f"  service RSS {baseline / 1024:.1f} MiB before, {peak / 1024:.1f} MiB peak:"
        f" {(peak - baseline) / args.streams:.1f} KiB per stream"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--deltas", type=int, default=20)
    parser.add_argument("--delay", type=float, default=0.05, help="seconds between upstream deltas")
    parser.add_argument("--sqlite", action="store_true", help="SQLite file instead of PostgreSQL")
    parser.add_argument("--serve-upstream", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_upstream:
        serve_upstream(args.serve_upstream, args.deltas, args.delay)
        return

    workdir = Path(tempfile.mkdtemp(prefix="chat-bench-"))
    database_url, drop_database = prepare_database(args.sqlite, workdir)
    up_port, svc_port = free_port(), free_port()
    upstream, service = f"http://127.0.0.1:{up_port}", f"http://127.0.0.1:{svc_port}"
    use_redis = redis_up()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("CLERK_", "CHAT_", "OPENAI_", "DJANGO_"))},
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "false",
        "SECRET_KEY": "bench-only-secret-key-" + secrets.token_hex(16),
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": database_url,
        "CACHE_URL": REDIS_URL if use_redis else "locmemcache://",
        "CLERK_DEV_ISSUER": "force",
        "CLERK_DEV_KEY_FILE": str(workdir / "dev_issuer_key.pem"),
        "OPENAI_API_KEY": "sk-bench",
        "OPENAI_BASE_URL": f"{upstream}/v1",
        "CHAT_MODEL": "bench",
        "CHAT_RESUMABLE": "false",
        "CHAT_RATE_LIMIT_REQUESTS": "1000000",
        "CHAT_MAX_CONCURRENT_STREAMS": "10",
        "CHAT_READ_TIMEOUT_SECONDS": "120",
        "LOG_LEVEL": "WARNING",
    }
    processes: list[subprocess.Popen[bytes]] = []
    upstream_log, service_log = workdir / "upstream.log", workdir / "service.log"  # files: a full pipe would stall
    try:
        if use_redis:
            import redis

            redis.Redis.from_url(REDIS_URL).flushdb()
        subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
        processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    __file__,
                    "--serve-upstream",
                    str(up_port),
                    "--deltas",
                    str(args.deltas),
                    "--delay",
                    str(args.delay),
                ],
                cwd=ROOT,
                stderr=upstream_log.open("wb"),
            )
        )
        wait_up(upstream, processes[-1], upstream_log)
        processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "config.asgi:application",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(svc_port),
                    "--log-level",
                    "warning",
                    "--backlog",
                    "4096",
                ],
                cwd=ROOT,
                env=env,
                stderr=service_log.open("wb"),
            )
        )
        wait_up(f"{service}/healthz", processes[-1], service_log)
        tokens = mint_tokens(env, args.streams)
        expected = "".join(f" w{i}" for i in range(args.deltas))
        print(
            f"database: {'SQLite' if args.sqlite else 'PostgreSQL'}, cache: {'Redis' if use_redis else 'local memory'}"
        )
        asyncio.run(sequential(args, upstream, service, tokens[0], expected))
        asyncio.run(concurrent(args, upstream, service, tokens, expected, processes[-1].pid, processes[0].pid))
        errors = [line for line in service_log.read_text(errors="replace").splitlines() if '"ERROR"' in line]
        print(f"service log: {len(errors)} error lines ({service_log}){': ' + errors[-1][:300] if errors else ''}")
    finally:
        for process in processes:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
        drop_database()


def mint_tokens(env: dict[str, str], n: int) -> list[str]:
    """Session tokens from the service's development issuer (same key file), one user per stream."""
    code = (
        "import json, sys, django; django.setup();"
        "from chatauth.devissuer import dev_issuer;"
        f"print(json.dumps([dev_issuer().mint(f'user_bench_{{i}}') for i in range({n})]))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


if __name__ == "__main__":
    main()
