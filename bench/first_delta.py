"""Where a sequential turn's time to first text-delta goes: before the upstream request, and after the model's delta.

`bench/turn.py` row 1 says how far the first text-delta is behind the upstream called directly; this splits that
gap in two, on one clock (CLOCK_MONOTONIC is shared by every process on the machine, and here the client and the
upstream are one process):
  - to upstream: from the client sending `POST /api/chat` to the upstream receiving the model request (parse,
    verification, slot, the ownership check on a database thread, the SDK's request);
  - relay: from the upstream sending its first content delta (`--delay` after the request) to the client
    reading it as a text-delta (conversion, the stream, Django's response and the server's send).
The upstream is `bench/support/upstream.py`'s, in a thread of this process, recording each request's arrival.
The upstream called directly by the same client (no service in between) runs turn for turn beside the service:
each figure is also printed as its difference to that floor (issue 17 asks for the first text-delta within 5 ms).
Titles are off (a title call would share the upstream). Each figure is printed with the machine's load.

With `--b NAME=VALUE ...` and/or `--b-root DIR` (another checkout, e.g. a `git worktree` of an earlier commit), a
twin B of the service runs beside it, turn for turn, and the differences are printed (the machine's noise is
larger than most changes are worth between two runs).

    .venv/bin/python bench/first_delta.py [--turns 40] [--pg] [--b NAME=VALUE ...] [--b-root DIR]
        [--database-url postgres://postgres@127.0.0.1:5432/bench_first_delta] [--cache-url redis://127.0.0.1:6379/13]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.chat import Processes, direct_turn, prepare_database  # noqa: E402
from bench.compare import parse_assignments  # noqa: E402
from bench.support.upstream import AsyncUpstream, delta_texts  # noqa: E402
from bench.turn import service_env, start_service, ui_turn  # noqa: E402
from chatauth.clerk.devissuer import DevIssuer  # noqa: E402


class RecordingUpstream(AsyncUpstream):
    """The bench upstream, noting when each streamed request arrived."""

    def __init__(self, deltas: list[str], delay: float) -> None:
        super().__init__(deltas, delay)
        self.arrivals: list[float] = []

    async def answer(self, request: dict[str, Any], writer: asyncio.StreamWriter) -> None:
        if request.get("stream"):
            self.arrivals.append(time.monotonic())
        await super().answer(request, writer)


def start_upstream_thread(upstream: RecordingUpstream) -> str:
    ready: dict[str, int] = {}
    started = threading.Event()

    async def serve() -> None:
        server = await asyncio.start_server(upstream.handle, "127.0.0.1", 0, backlog=1024)
        ready["port"] = server.sockets[0].getsockname()[1]
        started.set()
        async with server:
            await server.serve_forever()

    threading.Thread(target=lambda: asyncio.run(serve()), daemon=True).start()
    if not started.wait(10):
        raise RuntimeError("the upstream did not start")
    return f"http://127.0.0.1:{ready['port']}"


DIRECT = "direct"  # the upstream called by the client itself: the floor every target is compared with


async def measure(
    urls: dict[str, str], token: str, upstream: RecordingUpstream, turns: int, delay: float
) -> dict[str, dict[str, float]]:
    """Each target's p50s; the targets' turns alternate (direct A B direct A B ...), so all see the same machine."""
    rows: dict[str, list[tuple[float, float, float]]] = {name: [] for name in urls}
    async with httpx.AsyncClient(timeout=30) as client:
        for i in range(turns + 5):  # the first five warm the pools
            for index, (name, url) in enumerate(urls.items()):
                before = len(upstream.arrivals)
                sent = time.monotonic()
                if name == DIRECT:
                    turn = await direct_turn(client, url)
                else:
                    turn = await ui_turn(client, url, token, f"bench_first_delta_{index}_{i}_{secrets.token_hex(3)}")
                if turn.problems or len(upstream.arrivals) <= before:
                    raise RuntimeError(f"{name}: turn {i} failed: {turn.problems}")
                to_upstream = upstream.arrivals[before] - sent
                if i >= 5:
                    rows[name].append((to_upstream, turn.first_token - to_upstream - delay, turn.first_token))
    return {
        name: {
            label: statistics.median(row[k] for row in table) * 1000
            for k, label in enumerate(("to upstream", "relay", "first text-delta"))
        }
        for name, table in rows.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=40)
    parser.add_argument("--pg", action="store_true", help="PostgreSQL + Redis, resumable (default: SQLite)")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/bench_first_delta")
    parser.add_argument("--cache-url", default="redis://127.0.0.1:6379/13")
    parser.add_argument(
        "--b", action="append", default=[], metavar="NAME=VALUE", help="also run a twin B with this environment"
    )
    parser.add_argument("--b-root", metavar="DIR", help="also run a twin B from this checkout (e.g. a git worktree)")
    args = parser.parse_args()
    delay = 0.05
    upstream = RecordingUpstream(delta_texts(20), delay)
    upstream_url = start_upstream_thread(upstream)
    workdir = Path(tempfile.mkdtemp(prefix="bench-first-delta-"))
    procs = Processes(workdir)
    drop = None
    try:
        if args.pg:
            database_url, drop = prepare_database(args.database_url, workdir)
            env = service_env(workdir, database_url, args.cache_url, upstream_url, True)
        else:
            env = service_env(workdir, f"sqlite:///{workdir / 'bench.sqlite3'}", "locmemcache://", upstream_url, False)
        env["CHAT_MODEL_TITLES"] = "false"
        mode = "pg" if args.pg else "sqlite"
        twins = {mode: env}
        roots = {mode: ROOT}
        if args.b or args.b_root:
            changes = parse_assignments(args.b)
            if not args.pg:
                changes.setdefault("DATABASE_URL", f"sqlite:///{workdir / 'bench-b.sqlite3'}")
            b_name = f"{mode} B ({' '.join([*args.b, *([args.b_root] if args.b_root else [])])})"
            twins = {f"{mode} A": env, b_name: {**env, **changes}}
            roots = {f"{mode} A": ROOT, b_name: Path(args.b_root or ROOT)}
        urls = {DIRECT: upstream_url}
        for name, twin_env in twins.items():
            label = name.split()[1] if len(twins) == 2 else name
            urls[name] = start_service(procs, label, twin_env, workdir, roots[name]).url
        token = DevIssuer(str(workdir / "dev_issuer_key.pem")).mint(f"user_bench_{secrets.token_hex(3)}", ttl=3600)
        figures = asyncio.run(measure(urls, token, upstream, args.turns, delay))
        load = os.getloadavg()[0]
        print(f"p50 of {args.turns} sequential new chats (upstream's first delta {delay * 1000:.0f} ms after")
        print(f"the request; load {load:.2f})")
        floor = figures[DIRECT]
        for name, values in figures.items():
            print(f"   {name}")
            for label, value in values.items():
                over = "" if name == DIRECT else f"   ({value - floor[label]:+6.2f} ms over direct)"
                print(f"      {label:17s} {value:7.2f} ms{over}")
        services = [values for name, values in figures.items() if name != DIRECT]
        if len(services) == 2:
            a, b = services
            print("   B - A: " + ", ".join(f"{label} {b[label] - a[label]:+.2f} ms" for label in a))
    finally:
        procs.stop_all()
        if drop is not None:
            drop()


if __name__ == "__main__":
    main()
