"""Resumable chat streams: what resuming costs, against the non-resumable path measured in the same run.

Starts on loopback an OpenAI-compatible upstream (uvicorn, its own process; the reply's length and pace are
read from the prompt), two uvicorn workers of the service with CHAT_RESUMABLE=true (A and B, sharing the
database and Redis) and one with CHAT_RESUMABLE=false (the baseline). Redis db 13 (or BENCH_REDIS_URL) holds
the logs and the cache; it is flushed at the start and the end. Then:

  1. reconnect -> first replayed byte: POST a slow reply to A, read a few deltas, drop the connection, and
     time GET /api/chat/{id}/stream on A (same worker) and on B (another worker) until the first byte, the
     first `data:` chunk and the first text delta. Baselines: a fresh POST /api/chat of the same reply on
     the non-resumable worker (what a client without resume pays to start over) and the GET of an idle
     thread (204), the floor of the route.
  2. per-chunk cost of the log: one long reply (--deltas, no upstream delay) through A vs the baseline
     worker, POST until `[DONE]`: wall time and worker CPU per chunk, extra microseconds per chunk, ratio.
  3. Redis memory per active stream: --streams slow generations at once; MEMORY USAGE of their
     chat:log:* keys and INFO used_memory, sampled twice while they run -> bytes per active stream and per
     logged chunk; then what the finished logs keep until LOG_TTL_SECONDS.

Rounds are interleaved and figures are medians (p95 where it says so). Each timed request uses a new
connection and a raw HTTP/1.1 client, so the client's own cost is small and the same on both sides.

    .venv/bin/python bench/resume.py [--rounds 30] [--chunk-rounds 8] [--deltas 2000] [--streams 50]
                                     [--database-url postgres://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.live_server import free_port  # noqa: E402
from tests.support.workers import Worker, migrate, worker_env  # noqa: E402

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")  # flushed at the start and the end
PROMPT_RE = re.compile(r"bench deltas=(\d+) delay=([0-9.]+)")

# --- the upstream: OpenAI-compatible streaming, paced by the prompt (`bench/resume.py --serve-upstream PORT`) ---


def upstream_app() -> Callable[..., Any]:
    """Streams `deltas` content pieces: the first at once, then one every `delay` s (all in one write when 0)."""

    def event(model: str, delta: dict[str, Any], finish: str | None = None) -> bytes:
        chunk = {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\n\n"

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
        model = request.get("model", "bench")
        if not request.get("stream"):  # a title, should one be asked for
            payload = json.dumps(
                {
                    "id": "cmpl-bench",
                    "object": "chat.completion",
                    "created": 0,
                    "model": model,
                    "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": "Bench"}, "finish_reason": "stop"}
                    ],
                }
            ).encode()
            await send(
                {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]}
            )
            await send({"type": "http.response.body", "body": payload})
            return
        found = PROMPT_RE.search(json.dumps(request.get("messages")))
        deltas, delay = (int(found[1]), float(found[2])) if found else (3, 0.0)
        events = [event(model, {"role": "assistant", "content": ""})]
        events += [event(model, {"content": f" w{i}"}) for i in range(deltas)]
        tail = event(model, {}, "stop") + b"data: [DONE]\n\n"
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        if delay <= 0:
            await send({"type": "http.response.body", "body": b"".join(events) + tail})
            return
        await send({"type": "http.response.body", "body": events[0] + events[1], "more_body": True})
        for piece in events[2:]:
            await asyncio.sleep(delay)
            await send({"type": "http.response.body", "body": piece, "more_body": True})
        await send({"type": "http.response.body", "body": tail})

    return app


def serve_upstream(port: int) -> None:
    import uvicorn

    uvicorn.run(upstream_app(), host="127.0.0.1", port=port, log_level="warning", lifespan="off", access_log=False)


# --- a raw HTTP/1.1 client: one new connection per request, timestamps of the bytes as they arrive ---


class Exchange:
    """One request on its own connection; `until(marker)` reads until the marker and returns the seconds since start."""

    def __init__(self, port: int, method: str, path: str, token: str, body: Any = None) -> None:
        payload = json.dumps(body).encode() if body is not None else b""
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
        )
        self.start = time.perf_counter()
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.sendall(head.encode() + payload)
        self.data = bytearray()
        self.first_byte: float | None = None
        self._scan: dict[bytes, tuple[int, int]] = {}  # marker -> (where to search next, occurrences so far)

    def until(self, marker: bytes, count: int = 1) -> float:
        """Seconds from the start until the `count`-th occurrence of `marker` has arrived."""
        position, seen = self._scan.get(marker, (0, 0))
        while True:
            found = self.data.find(marker, position)
            while found != -1 and seen < count:
                seen, position = seen + 1, found + len(marker)
                found = self.data.find(marker, position) if seen < count else -1
            if seen >= count:
                self._scan[marker] = (position, seen)
                return time.perf_counter() - self.start
            position = max(position, len(self.data) - len(marker) + 1)
            chunk = self.sock.recv(262144)
            if not chunk:
                raise ConnectionError(f"connection closed before {marker!r}; got {bytes(self.data[:300])!r}")
            if self.first_byte is None:
                self.first_byte = time.perf_counter() - self.start
            self.data += chunk

    def count(self, marker: bytes) -> int:
        return self.data.count(marker)

    @property
    def received(self) -> bytes:
        return bytes(self.data)

    def status(self) -> int:
        self.until(b"\r\n\r\n")
        return int(self.received.split(b" ", 2)[1])

    def close(self) -> None:
        self.sock.close()


# --- processes ---


@contextmanager
def upstream_process(port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The upstream in its own process (so its work is not on the bench's GIL), stopped however the bench ends."""
    with open(log, "wb") as output:
        proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--serve-upstream", str(port)],
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        until = time.monotonic() + 30
        while True:
            if proc.poll() is not None or time.monotonic() > until:
                raise RuntimeError(f"the upstream did not start: {log.read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextmanager
def worker(env: dict[str, str]) -> Iterator[Worker]:
    started = Worker(env)
    try:
        yield started.wait_ready(60)
    finally:
        started.stop()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- the service as a client sees it ---


class Service:
    def __init__(self, worker: Worker, token: str) -> None:
        self.worker = worker
        self.port = worker.port
        self.http = httpx.Client(base_url=worker.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        self.token = token

    def new_thread(self) -> str:
        """A titled thread, so no title call runs after the reply (the baseline would wait for it)."""
        response = self.http.post("/api/threads", json={"title": "bench"})
        response.raise_for_status()
        return response.json()["id"]

    def post_chat(self, thread_id: str, deltas: int, delay: float) -> Exchange:
        message = {
            "id": f"msg_{secrets.token_hex(8)}",
            "role": "user",
            "parts": [{"type": "text", "text": f"bench deltas={deltas} delay={delay}"}],
        }
        body = {"id": thread_id, "messages": [message], "trigger": "submit-message"}
        return Exchange(self.port, "POST", "/api/chat", self.token, body)

    def resume(self, thread_id: str) -> Exchange:
        return Exchange(self.port, "GET", f"/api/chat/{thread_id}/stream", self.token)

    def stop(self, thread_id: str) -> None:
        self.http.delete(f"/api/chat/{thread_id}/stream").raise_for_status()

    def close(self) -> None:
        self.http.close()


def median_us(values: list[float]) -> float:
    return statistics.median(values) * 1e6


def p95_us(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))] * 1e6


# --- 1. reconnect -> first replayed byte ---

SLOW_DELTAS, SLOW_DELAY = 100, 0.05


def measure_reconnect(a: Service, b: Service, base: Service, rounds: int, deadline: float) -> None:
    timings: dict[str, dict[str, list[float]]] = {
        name: {"byte": [], "data": [], "text": []} for name in ("resume_same", "resume_other", "restart", "idle")
    }
    idle_thread = a.new_thread()

    def record(name: str, exchange: Exchange, status: int) -> None:
        exchange.until(b"\r\n\r\n")
        data = exchange.until(b"data: ") if status == 200 else None
        text = exchange.until(b'"type":"text-delta"') if status == 200 else None
        assert exchange.received.startswith(f"HTTP/1.1 {status}".encode()), exchange.received[:300]
        timings[name]["byte"].append(exchange.first_byte or 0.0)
        if data is not None and text is not None:
            timings[name]["data"].append(data)
            timings[name]["text"].append(text)
        exchange.close()

    def resume_block(index: int) -> None:
        thread_id = a.new_thread()
        first = a.post_chat(thread_id, SLOW_DELTAS, SLOW_DELAY)
        assert first.status() == 200, first.received[:300]
        first.until(b'"type":"text-delta"', 3)
        first.close()  # a reload: the generation goes on without its first reader
        order = [("resume_same", a), ("resume_other", b)]
        for name, service in order if index % 2 == 0 else reversed(order):
            record(name, service.resume(thread_id), 200)
        a.stop(thread_id)  # returns once the stopped reply is saved

    def restart_block(index: int) -> None:
        thread_id = base.new_thread()
        record("restart", base.post_chat(thread_id, SLOW_DELTAS, SLOW_DELAY), 200)  # leaving cancels it
        time.sleep(0.15)  # let the cancelled turn's save land before the next timed request reads the database

    def idle_block(index: int) -> None:
        record("idle", (a if index % 2 == 0 else b).resume(idle_thread), 204)

    blocks = [resume_block, restart_block, idle_block]
    done = 0
    for index in range(rounds):
        if time.monotonic() > deadline:
            break
        for block in blocks[index % 3 :] + blocks[: index % 3]:  # rotated, so no kind always follows another
            block(index)
        done += 1

    print(f"\n1. reconnect -> first replayed byte ({done} rounds; a slow reply, {SLOW_DELTAS} deltas at {SLOW_DELAY}s)")
    labels = {
        "resume_same": "GET .../stream, same worker",
        "resume_other": "GET .../stream, other worker",
        "restart": "fresh POST, non-resumable (baseline)",
        "idle": "GET .../stream of an idle thread (204)",
    }
    print(f"   {'':40} {'first byte':>20} {'first data: chunk':>20} {'first text-delta':>20}")
    print(f"   {'':40} {'median / p95 (ms)':>20} {'median / p95 (ms)':>20} {'median / p95 (ms)':>20}")
    for name, label in labels.items():
        cells = []
        for kind in ("byte", "data", "text"):
            values = timings[name][kind]
            cells.append(f"{median_us(values) / 1e3:7.2f} / {p95_us(values) / 1e3:7.2f}" if values else "-")
        print(f"   {label:40} {cells[0]:>20} {cells[1]:>20} {cells[2]:>20}")
    restart, idle = timings["restart"], timings["idle"]["byte"]
    for name in ("resume_same", "resume_other"):
        resumed = timings[name]
        print(
            f"   {labels[name]}: first byte {median_us(resumed['byte']) / median_us(restart['byte']):.2f}x"
            f" of a fresh POST, {median_us(resumed['byte']) / median_us(idle):.2f}x of the idle 204;"
            f" first text {median_us(resumed['text']) / median_us(restart['text']):.2f}x of a fresh POST's"
        )


# --- 2. per-chunk cost of writing the log ---


def long_reply(service: Service, deltas: int) -> tuple[float, int, float]:
    """Seconds from POST to `[DONE]`, chunks received, and the worker's CPU seconds meanwhile."""
    thread_id = service.new_thread()
    cpu_before = cpu_seconds(service.worker.process.pid)
    exchange = service.post_chat(thread_id, deltas, 0)
    elapsed = exchange.until(b"data: [DONE]")
    cpu = cpu_seconds(service.worker.process.pid) - cpu_before
    received = exchange.received
    exchange.close()
    assert received.startswith(b"HTTP/1.1 200") and b'"type":"error"' not in received, received[:300]
    return elapsed, received.count(b"data: {"), cpu


def measure_log_cost(a: Service, base: Service, client: redis.Redis, rounds: int, deltas: int, deadline: float) -> None:
    long_reply(a, deltas)  # warm-up: imports, connection pools, the first plan of each query
    long_reply(base, deltas)
    per_chunk: dict[str, list[float]] = {"resumable": [], "base": []}
    cpu_per_chunk: dict[str, list[float]] = {"resumable": [], "base": []}
    chunks = 0
    for index in range(rounds):
        if time.monotonic() > deadline:
            break
        order = [("resumable", a), ("base", base)]
        for name, service in order if index % 2 == 0 else reversed(order):
            elapsed, chunks, cpu = long_reply(service, deltas)
            per_chunk[name].append(elapsed / chunks)
            cpu_per_chunk[name].append(cpu / chunks)
    res, base_t = median_us(per_chunk["resumable"]), median_us(per_chunk["base"])
    res_cpu, base_cpu = median_us(cpu_per_chunk["resumable"]), median_us(cpu_per_chunk["base"])
    print(f"\n2. writing the log: one reply of {chunks} chunks ({deltas} deltas, no upstream delay), POST to [DONE]")
    print(f"   {len(per_chunk['base'])} interleaved rounds, medians per chunk")
    print(f"   non-resumable (baseline):   wall {base_t:7.1f} us   worker CPU {base_cpu:7.1f} us")
    print(f"   resumable (Redis log):      wall {res:7.1f} us   worker CPU {res_cpu:7.1f} us")
    print(
        f"   extra per chunk:            wall {res - base_t:7.1f} us   worker CPU {res_cpu - base_cpu:7.1f} us"
        f"   ratio resumable/baseline: wall {res / base_t:.2f}x, CPU {res_cpu / base_cpu:.2f}x"
    )
    print(f"   whole reply: baseline {base_t * chunks / 1e3:.0f} ms, resumable {res * chunks / 1e3:.0f} ms")
    long_logs = [key for key in client.scan_iter("chat:log:*", count=1000) if client.xlen(key) >= deltas]
    if long_logs:
        size, entries = client.memory_usage(long_logs[0], samples=0), client.xlen(long_logs[0])
        payload = statistics.mean(len(fields[b"d"]) for _, fields in client.xrange(long_logs[0]))
        print(
            f"   the log of one such reply: {entries} entries, {size / 1024:.0f} KiB in Redis = {size / entries:.0f} B "
            f"per chunk (the framed chunk itself averages {payload:.0f} B); kept {client.ttl(long_logs[0])} s more"
        )


# --- 3. Redis memory per active stream ---


def log_footprint(client: redis.Redis) -> tuple[int, int, int, list[int]]:
    """(log keys, bytes of them per MEMORY USAGE, entries in them, their TTLs)."""
    keys = list(client.scan_iter("chat:log:*", count=1000))
    if not keys:
        return 0, 0, 0, []
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.memory_usage(key, samples=0)
        pipe.xlen(key)
        pipe.ttl(key)
    values = pipe.execute()
    return len(keys), sum(values[0::3]), sum(values[1::3]), values[2::3]


def memory_info(client: redis.Redis) -> tuple[int, int, int]:
    """(used_memory, of which client connection buffers, connected clients): all for the whole instance."""
    memory = client.info("memory")
    return (
        int(memory["used_memory"]),
        int(memory["mem_clients_normal"]),
        int(client.info("clients")["connected_clients"]),
    )


def bench_connections(client: redis.Redis) -> tuple[int, int]:
    """(connections to db 13, of which blocked in BLPOP: the per-generation stop watchers)."""
    mine = [c for c in client.client_list() if c.get("db") == "13"]
    return len(mine), sum(1 for c in mine if c.get("cmd") == "blpop")


def sample(client: redis.Redis) -> dict[str, Any]:
    active = list(client.scan_iter("chat:active:*", count=1000))
    keys, log_bytes, entries, ttls = log_footprint(client)
    used, buffers, clients = memory_info(client)
    connections, watchers = bench_connections(client)
    lease_bytes = sum(client.memory_usage(key, samples=0) or 0 for key in active)
    return {
        "active": len(active),
        "logs": keys,
        "log_bytes": log_bytes,
        "lease_bytes": lease_bytes,
        "entries": entries,
        "no_ttl": sum(1 for ttl in ttls if ttl == -1),
        "ttls": ttls,
        "used": used,
        "buffers": buffers,
        "clients": clients,
        "connections": connections,
        "watchers": watchers,
    }


def measure_memory(a: Service, b: Service, client: redis.Redis, streams: int, deltas: int, delay: float) -> None:
    threads = [(a if i % 2 == 0 else b).new_thread() for i in range(streams)]
    client.flushdb()  # only finished logs of the earlier phases are in it: start from nothing
    time.sleep(0.3)
    before = sample(client)
    failures: list[str] = []

    def start(index: int) -> None:
        service = a if index % 2 == 0 else b
        try:
            exchange = service.post_chat(threads[index], deltas, delay)
            exchange.until(b'"type":"text-delta"')
            exchange.close()  # the generation goes on, owned by the server
        except Exception as exc:  # reported below; the bench must still stop its processes
            failures.append(f"{exc.__class__.__name__}: {exc}")

    starters = [threading.Thread(target=start, args=(i,)) for i in range(streams)]
    started_at = time.monotonic()
    for starter in starters:
        starter.start()
    for starter in starters:
        starter.join(60)
    ramp = time.monotonic() - started_at
    during = []
    for _ in range(2):
        time.sleep(min(1.5, deltas * delay / 5))
        during.append(sample(client))
    deadline = time.monotonic() + deltas * delay + 30
    while any(True for _ in client.scan_iter("chat:active:*", count=1000)) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(0.5)
    after = sample(client)

    print(
        f"\n3. Redis memory: {streams} slow generations at once ({deltas} deltas at {delay}s), started in {ramp:.1f}s"
    )
    if failures:
        print(f"   {len(failures)} streams failed to start, e.g. {failures[0]}")
    for label, now in zip(("sample 1", "sample 2"), during, strict=True):
        n = max(now["active"], 1)
        keys_bytes = now["log_bytes"] + now["lease_bytes"]
        print(
            f"   {label}: {now['active']} active, {now['entries']} logged chunks; keys (log + lease) "
            f"{keys_bytes / 1024:.0f} KiB = {keys_bytes / n:.0f} B per active stream "
            f"(log {now['log_bytes'] / n:.0f} B, lease {now['lease_bytes'] / n:.0f} B); "
            f"used_memory {(now['used'] - before['used']) / n:+.0f} B per active stream, of which connection "
            f"buffers {(now['buffers'] - before['buffers']) / n:+.0f} B"
        )
        print(
            f"             connections to db 13: {now['connections'] - before['connections']:+d} "
            f"({now['watchers']} blocked in BLPOP, the stop watchers) = "
            f"{(now['connections'] - before['connections']) / n:.1f} per active stream; "
            f"logs without a TTL: {now['no_ttl']}/{now['logs']}"
        )
    n = max(after["logs"], 1)
    print(
        f"   after the end: {after['logs']} finished logs kept ({after['entries']} chunks, "
        f"{after['log_bytes'] / 1024:.0f} KiB = {after['log_bytes'] / n:.0f} B each, "
        f"{after['log_bytes'] / max(after['entries'], 1):.0f} B per logged chunk) for "
        f"{min(after['ttls'], default=0)}..{max(after['ttls'], default=0)} s more"
    )
    print("   (used_memory and its buffers count the whole Redis instance: others add noise; MEMORY USAGE is exact)")


# --- main ---


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=30, help="reconnect rounds")
    parser.add_argument("--chunk-rounds", type=int, default=8, help="long-reply rounds per server")
    parser.add_argument("--deltas", type=int, default=2000, help="deltas of the long reply")
    parser.add_argument("--streams", type=int, default=50, help="concurrent generations for the memory figure")
    parser.add_argument("--database-url", default="", help="default: a temporary SQLite file")
    parser.add_argument("--budget", type=float, default=200, help="seconds after which remaining rounds are skipped")
    parser.add_argument("--serve-upstream", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_upstream:
        serve_upstream(args.serve_upstream)
        return

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the cleanup below on a kill too
    deadline = time.monotonic() + args.budget
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    client.flushdb()
    with tempfile.TemporaryDirectory(prefix="bench-resume-") as tmp, ExitStack() as stack:
        stack.callback(client.flushdb)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.test_settings")  # only to import the issuer here
        import django

        django.setup()
        logging.disable(logging.WARNING)  # the test settings log every httpx request of this process
        from chatauth.clerk.devissuer import DevIssuer

        key_file = str(Path(tmp) / "dev_key.pem")
        token = DevIssuer(key_file).mint("user_bench", ttl=3600)
        upstream_port = free_port()
        stack.enter_context(upstream_process(upstream_port, Path(tmp) / "upstream.log"))
        common = {
            "DEBUG": "true",
            "SECRET_KEY": "bench-resume-secret-key-0123456789-0123456789",
            # IMMEDIATE: with SQLite's default DEFERRED transactions, concurrent chat POSTs on a database file fail
            # at once with "database is locked" (503): a read transaction cannot upgrade to a write while another
            # connection writes, and SQLite does not wait for that.
            "DATABASE_URL": args.database_url or f"sqlite:///{tmp}/bench.sqlite3?transaction_mode=IMMEDIATE",
            "CLERK_DEV_KEY_FILE": key_file,
            "OPENAI_API_KEY": "x",
            "OPENAI_BASE_URL": f"http://127.0.0.1:{upstream_port}/v1",
            "CHAT_DEV_MODEL": "false",
            "CACHE_URL": REDIS_URL,
            "CHAT_REDIS_URL": REDIS_URL,
            "CHAT_RATE_LIMIT_REQUESTS": "1000000",
            "CHAT_MAX_CONCURRENT_STREAMS": "1000",
            "LOG_LEVEL": "WARNING",
        }
        migrate(worker_env(**common))
        on, off = worker_env(**common, CHAT_RESUMABLE="true"), worker_env(**common, CHAT_RESUMABLE="false")
        a = Service(stack.enter_context(worker(on)), token)
        b = Service(stack.enter_context(worker(on)), token)
        base = Service(stack.enter_context(worker(off)), token)
        for service in (a, b, base):
            stack.callback(service.close)
        print(f"resumable workers A :{a.port}, B :{b.port}; non-resumable :{base.port}; upstream :{upstream_port}")
        print(
            f"database: {args.database_url.split('@')[-1] or 'SQLite file (transaction_mode=IMMEDIATE)'}; Redis db 13"
        )
        started = time.monotonic()
        measure_reconnect(a, b, base, args.rounds, deadline - 120)
        measure_log_cost(a, base, client, args.chunk_rounds, args.deltas, deadline - 40)
        measure_memory(a, b, client, args.streams, deltas=100, delay=0.1)
        print(f"\nbench time: {time.monotonic() - started:.0f}s")


if __name__ == "__main__":
    main()
