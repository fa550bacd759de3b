"""Issue 17's table in one run: a chat turn through the service, as ratios against two anchors on the same upstream.

Every process on loopback, against the same OpenAI-compatible upstream (bench/support/upstream.py: 20 deltas,
50 ms apart by default):
  - direct: the upstream called directly (the floor);
  - node: the assistant-ui Clerk guide's route rebuilt in Node (bench/node/route.mjs: `@clerk/backend`
    verifyToken + `ai` streamText with an OpenAI-compatible provider + toUIMessageStreamResponse, no
    persistence); its npm packages are installed here (`npm ci` in bench/node) when missing;
  - sqlite: the service, one uvicorn worker, SQLite, connection-owned streams;
  - pg: the service, one uvicorn worker, PostgreSQL + Redis, resumable (skipped with --no-pg).

Rows (each figure printed with the 1-minute load average when it was taken):
  1. first byte and first text-delta, p50 of --rounds sequential turns (interleaved: each round runs every
     target once, in rotating order), each a new chat;
  2. session-token verification (`verify_session_token`, JWKS in the shared cache) vs the RSA signature check
     alone, in this process;
  3. `GET /api/threads` vs a bare Django view returning the same JSON (bench/support/bare.py), over HTTP to the
     SQLite service, sequential requests;
  4. a burst of --concurrency new chats at once (each a new user and thread, titles on), twice: wall time,
     errors, server CPU per turn (the process's CPU from the burst's start until it is idle again, so titles
     and saves done after the reply are counted), memory per open stream (peak RSS over the burst minus RSS
     before, per stream) and threads at peak; for `direct` the upstream's own figures. Each target first
     takes a warm-up burst of a tenth as many chats, so its pools (database threads and connections, upstream
     and Redis connections) exist before the first measured burst: memory per stream is then what one more
     open stream costs, counted over the streams beyond the warm-up's (the warm-up's freed memory is reused).
     Then once more on a
     twin of each service started with CHAT_MODEL_TITLES=false ("untitled": the thread is titled from its
     first message, no title call): the CPU per turn without the title's model call, as issue 17 asks.

    .venv/bin/python bench/turn.py [--concurrency 500] [--rounds 30] [--no-pg]
        [--database-url postgres://postgres@127.0.0.1:5432/bench_turn] [--cache-url redis://127.0.0.1:6379/12]
        [--py-spy DIR]   (records a py-spy profile of each service during its first burst; needs py-spy)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.chat import (  # noqa: E402  (sets Django up with the test settings: the dev issuer, test keys)
    BenchTimeout,
    Pool,
    Processes,
    Turn,
    cpu_seconds,
    direct_turn,
    failures,
    free_port,
    prepare_database,
    proc_status,
    raise_open_files,
    start_upstream,
    summarize_failures,
    wait_up,
)
from bench.support.upstream import delta_texts  # noqa: E402
from chatauth.clerk.devissuer import DevIssuer  # noqa: E402

NODE_DIR = ROOT / "bench" / "node"
TEXT_MARKERS = (b'"delta":"w', b'"delta": "w')  # the first non-empty text-delta (the SDK may send an empty one)


def load() -> str:
    return f"load {os.getloadavg()[0]:.2f}"


# --- turns -----------------------------------------------------------------------------------------------


async def ui_turn(client: httpx.AsyncClient, url: str, token: str, thread_id: str) -> Turn:
    """POST /api/chat as the AI SDK's DefaultChatTransport sends a new chat's first message."""
    body = {
        "id": thread_id,
        "trigger": "submit-message",
        "messages": [{"id": f"m_{secrets.token_hex(6)}", "role": "user", "parts": [{"type": "text", "text": "hi"}]}],
    }
    turn = Turn()
    start = time.perf_counter()
    pieces: list[bytes] = []
    try:
        async with client.stream(
            "POST", f"{url}/api/chat", json=body, headers={"Authorization": f"Bearer {token}"}
        ) as r:
            turn.headers = time.perf_counter() - start
            if r.status_code != 200:
                await r.aread()
                turn.problems.append(f"HTTP {r.status_code} {r.text[:100]}")
                return turn
            tail = b""
            async for piece in r.aiter_raw():
                now = time.perf_counter() - start
                turn.first_byte = turn.first_byte or now
                window = tail + piece
                if not turn.first_token and any(m in window for m in TEXT_MARKERS):
                    turn.first_token = now
                tail = piece[-32:]
                pieces.append(piece)
            turn.total = time.perf_counter() - start
    except (httpx.HTTPError, OSError) as exc:
        turn.problems.append(type(exc).__name__)
        return turn
    events = [e[6:] for e in b"".join(pieces).split(b"\n\n") if e.startswith(b"data: ")]
    if not events or events[-1] != b"[DONE]":
        turn.problems.append("no [DONE]")
    for event in events[:-1]:
        chunk = json.loads(event)
        if chunk["type"] == "text-delta":
            turn.text += chunk["delta"]
        elif chunk["type"] == "error":
            turn.problems.append(f"error chunk: {chunk.get('errorText')}")
    return turn


@dataclass
class Target:
    name: str
    url: str
    pid: int
    direct: bool = False

    def turn(self, client: httpx.AsyncClient, token: str, thread_id: str) -> Awaitable[Turn]:
        return direct_turn(client, self.url) if self.direct else ui_turn(client, self.url, token, thread_id)


# --- processes -------------------------------------------------------------------------------------------


def node_modules() -> None:
    """The Node route's packages from the npm registry, exactly as locked, when they are not installed yet."""
    if (NODE_DIR / "node_modules" / ".package-lock.json").exists():
        return
    print("bench/node: npm ci (the Node route's packages, from the npm registry)", flush=True)
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=NODE_DIR, check=True, timeout=600)


def service_env(workdir: Path, database_url: str, cache_url: str, upstream: str, resumable: bool) -> dict[str, str]:
    dropped = ("CLERK_", "CHAT_", "OPENAI_", "DJANGO_", "DATABASE_", "CACHE_", "LOG_", "REDIS_", "DEBUG", "SECRET_KEY")
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(dropped)},
        "DJANGO_SETTINGS_MODULE": "bench.support.bare_settings",  # config.settings plus the bare thread-list view
        "DEBUG": "false",
        "CLERK_DEV_ISSUER": "force",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECRET_KEY": "bench-only-" + secrets.token_hex(24),
        "DATABASE_URL": database_url,
        "CACHE_URL": cache_url,
        "CLERK_DEV_KEY_FILE": str(workdir / "dev_issuer_key.pem"),
        "OPENAI_API_KEY": "x",
        "OPENAI_BASE_URL": f"{upstream}/v1",
        "CHAT_MODEL": "bench",
        "CHAT_RESUMABLE": "true" if resumable else "false",
        **({"CHAT_REDIS_URL": cache_url} if resumable else {}),
        "CHAT_RATE_LIMIT_REQUESTS": "1000000",
        "CHAT_MAX_CONCURRENT_STREAMS": "1",
        "CHAT_READ_TIMEOUT_SECONDS": "90",
        "LOG_LEVEL": "WARNING",
    }


def start_service(procs: Processes, name: str, env: dict[str, str], workdir: Path, root: Path = ROOT) -> Target:
    """The service from `root` (this checkout, or another one to compare with) in one uvicorn worker."""
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=root, env=env, check=True, timeout=180)
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1", "--port", str(port)]
    child = procs.start(name, [*argv, "--log-level", "warning", "--no-access-log", "--backlog", "4096"], env, root)
    url = f"http://127.0.0.1:{port}"
    wait_up(f"{url}/healthz", child, workdir / f"{name}.log")
    return Target(name, url, child.pid)


def start_node(procs: Processes, upstream: str, issuer: DevIssuer, workdir: Path) -> Target:
    from cryptography.hazmat.primitives import serialization

    key_file = workdir / "dev_issuer_public.pem"
    key_file.write_bytes(
        issuer.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    port = free_port()
    argv = ["node", str(NODE_DIR / "route.mjs"), "--port", str(port), "--base-url", f"{upstream}/v1"]
    child = procs.start("node", [*argv, "--jwt-key-file", str(key_file)])
    url = f"http://127.0.0.1:{port}"
    wait_up(f"{url}/healthz", child, workdir / "node.log")
    return Target("node", url, child.pid)


# --- 1. sequential ---------------------------------------------------------------------------------------


async def sequential(targets: list[Target], token: str, rounds: int, expected: str) -> dict[str, list[Turn]]:
    seen: dict[str, list[Turn]] = {t.name: [] for t in targets}
    async with httpx.AsyncClient(timeout=60) as client:
        for i in range(3):  # warm-up: connections, first imports, first thread
            for target in targets:
                await target.turn(client, token, f"bench_warm_{target.name}_{i}")
        for i in range(rounds):
            order = targets[i % len(targets) :] + targets[: i % len(targets)]
            for target in order:
                seen[target.name].append(await target.turn(client, token, f"bench_seq_{target.name}_{i}"))
    print(f"1. sequential new chats, p50 of {rounds} (ratio to direct; +ms over direct)")
    base = {attr: statistics.median(getattr(t, attr) for t in seen["direct"]) for attr in ("first_byte", "first_token")}
    for target in targets:
        ok = [t for t in seen[target.name] if not t.problems and t.text == expected]
        bad = failures(seen[target.name], expected)
        cells = []
        for label, attr in (("first byte", "first_byte"), ("first text-delta", "first_token")):
            value = statistics.median(getattr(t, attr) for t in ok) if ok else float("nan")
            cells.append(
                f"{label} {value * 1000:6.1f} ms ({value / base[attr]:5.2f}x, +{(value - base[attr]) * 1000:5.1f})"
            )
        print(f"   {target.name:<7} " + "   ".join(cells) + f"   problems {len(bad)}; {load()}")
    return seen


# --- 2. bursts -------------------------------------------------------------------------------------------


@dataclass
class Burst:
    wall: float
    errors: list[str]
    cpu: float
    rss_before: int
    rss_peak: int
    threads_peak: int


def settle(pid: int, quiet: float = 0.5, limit: float = 20.0) -> None:
    """Wait until the process uses (almost) no CPU for `quiet` seconds: its after-reply work is done."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        time.sleep(quiet)
        if cpu_seconds(pid) - before < 0.02 * quiet:
            return


async def burst(target: Target, tokens: list[str], label: str, expected: str) -> Burst:
    n = len(tokens)
    before = proc_status(target.pid)
    peak = {"rss": before["VmRSS"], "threads": before["Threads"]}
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.is_set():
            with contextlib.suppress(OSError):
                status = proc_status(target.pid)
                peak["rss"] = max(peak["rss"], status["VmRSS"])
                peak["threads"] = max(peak["threads"], status["Threads"])
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    cpu = cpu_seconds(target.pid)
    try:
        async with Pool(n) as clients:
            start = time.perf_counter()
            turns = await asyncio.gather(
                *(target.turn(clients[i], tokens[i], f"bench_{label}_{i}_{secrets.token_hex(3)}") for i in range(n))
            )
            wall = time.perf_counter() - start
        await asyncio.to_thread(settle, target.pid)
    finally:
        sampling.set()
        sampler.join()
    return Burst(
        wall,
        failures(list(turns), expected),
        cpu_seconds(target.pid) - cpu,
        before["VmRSS"],
        peak["rss"],
        peak["threads"],
    )


async def bursts(
    targets: list[Target], untitled: list[Target], tokens: list[str], expected: str, profile: Callable[[Target], Any]
) -> None:
    n = len(tokens)
    print(
        f"4. {n} concurrent new chats (each a new user and thread; titles on), two rounds per target;"
        " one round per untitled twin (no title call)"
    )
    walls: dict[str, float] = {}
    cpus: dict[str, float] = {}
    warm = max(1, n // 10)
    for target in [*targets, *untitled]:
        await burst(target, tokens[:warm], f"{target.name}_warm", expected)
        for label in ("r1", "r2") if target in targets else ("r1",):
            with profile(target) if label == "r1" else contextlib.nullcontext():
                result = await burst(target, tokens, f"{target.name}_{label}", expected)
            walls.setdefault(target.name, result.wall)
            cpus.setdefault(target.name, result.cpu / n)
            per_stream = (result.rss_peak - result.rss_before) / max(1, n - warm)
            print(
                f"   {target.name:<15}{label}  {n - len(result.errors)}/{n} ok  wall {result.wall:6.2f} s"
                f" ({result.wall / walls['direct']:5.2f}x direct)  CPU/turn {result.cpu / n * 1000:6.2f} ms"
                f" ({result.cpu / n / cpus['direct']:5.1f}x direct"
                + (f", {result.cpu / n / cpus['node']:4.2f}x node" if "node" in cpus else "")
                + f")  memory/stream {per_stream:6.1f} KiB  threads peak {result.threads_peak}; {load()}"
            )
            if result.errors:
                print(f"            errors: {summarize_failures(result.errors)}")


# --- 3. verification -------------------------------------------------------------------------------------


def verification(cache_url: str, n: int = 3000) -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    from django.core.cache import caches
    from django.test.utils import override_settings

    from chatauth.clerk.tokens import verify_session_token
    from chatauth.jwt import b64url_decode
    from tests.support.jwks_server import JwksServer
    from tests.support.keys import KeyPair, session_claims

    key = KeyPair(kid="bench_key")
    server = JwksServer().start()
    server.document = {"keys": [key.jwk]}
    issuer = "https://clerk.bench.test"
    token = key.sign({**session_claims(issuer=issuer), "exp": int(time.time()) + 3600})
    head, payload, signature = token.split(".")
    public = key.private_key.public_key()
    signing_input, raw_signature = f"{head}.{payload}".encode(), b64url_decode(signature)
    backend = (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": cache_url}
        if cache_url.startswith("redis://")
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
    clerk = {"JWKS_URL": server.url, "ISSUER": issuer, "AUTHORIZED_PARTIES": ["http://localhost:3000"]}
    with override_settings(CLERK=clerk, CACHES={"default": {**backend, "KEY_PREFIX": f"bench_{secrets.token_hex(4)}"}}):
        verify_session_token(token)  # cold: the one fetch

        def rsa() -> None:
            public.verify(raw_signature, signing_input, padding.PKCS1v15(), hashes.SHA256())

        def full() -> None:
            verify_session_token(token)

        # A token's first verification (it is decoded then; later ones reuse the decoding): distinct tokens.
        expiry = int(time.time()) + 3600
        fresh = iter([key.sign({**session_claims(issuer=issuer, sid=f"sess_{i}"), "exp": expiry}) for i in range(n)])

        def first() -> None:
            verify_session_token(next(fresh))

        timings: dict[str, list[float]] = {"rsa": [], "full": [], "first": []}
        for _ in range(5):  # interleaved batches
            for name, fn in (("rsa", rsa), ("full", full), ("first", first)):
                start = time.perf_counter()
                for _ in range(n // 5):
                    fn()
                timings[name].append((time.perf_counter() - start) / (n // 5))
        caches["default"].clear()
    server.stop()
    rsa_us, full_us, first_us = (statistics.median(timings[k]) * 1e6 for k in ("rsa", "full", "first"))
    print(
        f"2. verification: verify_session_token {full_us:6.1f} us (JWKS in the {backend['BACKEND'].split('.')[-1]})"
        f" vs RSA signature alone {rsa_us:6.1f} us: {full_us / rsa_us:4.2f}x; a token's first verification"
        f" {first_us:6.1f} us: {first_us / rsa_us:4.2f}x; {load()}"
    )


# --- 4. thread list --------------------------------------------------------------------------------------


async def thread_list(target: Target, token: str, user_id: str, n: int = 400) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    routes = {"service": ("/api/threads", headers), "bare": (f"/bench/bare-threads?user={user_id}", {})}
    async with httpx.AsyncClient(base_url=target.url, timeout=30) as client:
        bodies = {k: (await client.get(path, headers=h)).json() for k, (path, h) in routes.items()}
        timings: dict[str, list[float]] = {"service": [], "bare": []}
        for i in range(n):
            for name in ("service", "bare") if i % 2 else ("bare", "service"):
                path, h = routes[name]
                start = time.perf_counter()
                response = await client.get(path, headers=h)
                timings[name].append(time.perf_counter() - start)
                assert response.status_code == 200, response.text
    same = bodies["service"] == bodies["bare"]
    service, bare = (statistics.median(timings[k]) * 1000 for k in ("service", "bare"))
    print(
        f"3. GET /api/threads ({len(bodies['service']['threads'])} threads) p50 {service:5.2f} ms vs a bare Django view"
        f" {bare:5.2f} ms: {service / bare:4.2f}x (same JSON: {same}); {load()}"
    )


# --- main ------------------------------------------------------------------------------------------------


def profiler(workdir: Path, out_dir: str | None) -> Callable[[Target], Any]:
    @contextlib.contextmanager
    def record(target: Target) -> Any:
        if not out_dir or target.name in ("direct", "node"):
            yield
            return
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        path = Path(out_dir) / f"{target.name}.txt"
        spy = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("py-spy")),
                "record",
                "--pid",
                str(target.pid),
                "--format",
                "raw",
                "--gil",  # only the thread holding the GIL: where the CPU goes, not threads waiting on I/O
                "--rate",
                "200",
                "-o",
                str(path),
            ],
            stdout=subprocess.DEVNULL,
            stderr=(workdir / "py-spy.log").open("ab"),
        )
        try:
            yield
        finally:
            spy.send_signal(signal.SIGINT)
            spy.wait(30)

    return record


def run(args: argparse.Namespace, procs: Processes, workdir: Path) -> None:
    raise_open_files(args.concurrency * 2)
    node_modules()
    expected = "".join(delta_texts(20))
    upstream_args = argparse.Namespace(deltas=20, delay=0.05)
    upstream_proc, upstream = start_upstream(procs, "asyncio", upstream_args)
    targets = [Target("direct", upstream, upstream_proc.pid, direct=True)]
    issuer = DevIssuer(str(workdir / "dev_issuer_key.pem"))
    targets.append(start_node(procs, upstream, issuer, workdir))
    sqlite_env = service_env(workdir, f"sqlite:///{workdir / 'bench.sqlite3'}", "locmemcache://", upstream, False)
    targets.append(start_service(procs, "sqlite", sqlite_env, workdir))
    drop = None
    if args.pg:
        database_url, drop = prepare_database(args.database_url, workdir)
        pg_env = service_env(workdir, database_url, args.cache_url, upstream, True)
        targets.append(start_service(procs, "pg", pg_env, workdir))
    untitled = [start_service(procs, "sqlite-untitled", {**sqlite_env, "CHAT_MODEL_TITLES": "false"}, workdir)]
    if args.pg:
        untitled.append(start_service(procs, "pg-untitled", {**pg_env, "CHAT_MODEL_TITLES": "false"}, workdir))
    try:
        run_id = secrets.token_hex(3)
        seq_user = f"user_bench_{run_id}_seq"
        seq_token = issuer.mint(seq_user, ttl=3600)
        tokens = [issuer.mint(f"user_bench_{run_id}_{i}", ttl=3600) for i in range(args.concurrency)]
        print(
            f"targets: {', '.join(t.name for t in targets)}; one process each; {os.cpu_count()} CPUs; "
            f"upstream 20 deltas 50 ms apart; {load()}",
            flush=True,
        )
        asyncio.run(sequential(targets, seq_token, args.rounds, expected))
        verification(args.cache_url if args.pg else "locmemcache://")
        asyncio.run(thread_list(targets[2], seq_token, seq_user))
        asyncio.run(bursts(targets, untitled, tokens, expected, profiler(workdir, args.py_spy)))
        for target in [*targets[2:], *untitled]:
            log = (workdir / f"{target.name}.log").read_text(errors="replace").splitlines()
            errors = [line for line in log if "ERROR" in line or "Traceback" in line]
            print(
                f"   {target.name} log: {len(errors)} error lines" + (f"; last: {errors[-1][:240]}" if errors else "")
            )
    finally:
        procs.stop_all()
        if drop:
            drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/bench_turn")
    parser.add_argument("--cache-url", default="redis://127.0.0.1:6379/12")
    parser.add_argument("--no-pg", dest="pg", action="store_false", help="skip PostgreSQL + Redis (resumable)")
    parser.add_argument("--py-spy", metavar="DIR", help="write a raw py-spy profile per service's first burst here")
    parser.add_argument("--time-limit", type=int, default=900)
    args = parser.parse_args()

    def on_alarm(*_: Any) -> None:
        raise BenchTimeout(f"the bench ran past --time-limit {args.time_limit} s")

    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt))
    signal.alarm(args.time_limit)
    workdir = Path(tempfile.mkdtemp(prefix="bench-turn-"))
    procs = Processes(workdir)
    started = time.monotonic()
    try:
        run(args, procs, workdir)
    except (BenchTimeout, KeyboardInterrupt) as exc:
        print(f"stopped: {str(exc) or type(exc).__name__} (logs in {workdir})", file=sys.stderr)
        sys.exit(1)
    finally:
        signal.alarm(0)
        procs.stop_all()
    print(f"bench wall time: {time.monotonic() - started:.0f} s (logs in {workdir})")


if __name__ == "__main__":
    main()
