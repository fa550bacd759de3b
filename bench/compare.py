"""Two twins of the service, measured against each other in one run: A as configured, B with extra environment
(`--b NAME=VALUE ...`) and/or from another checkout (`--b-root DIR`, e.g. a `git worktree` of the previous commit).

`bench/turn.py` compares the service with its anchors; on a shared 2-core machine one burst's CPU per turn moves by
20% or more from one minute to the next, more than most single changes are worth. So the twins' bursts alternate,
A B B A A B ..., and both see the same machine: CPU per turn, wall time and errors per burst, and B's median as a
ratio of A's. Titles are off unless `--titles` (the title call is the model's work, not the service's).

    .venv/bin/python bench/compare.py --b GC_THRESHOLD=700 --b GC_FREEZE=false [--concurrency 500] [--rounds 4]
        [--b-root DIR] [--pg] [--database-url postgres://postgres@127.0.0.1:5432/bench_compare]
        [--cache-url redis://127.0.0.1:6379/14]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.chat import Processes, prepare_database  # noqa: E402
from bench.support.upstream import delta_texts  # noqa: E402
from bench.turn import (  # noqa: E402
    burst,
    load,
    raise_open_files,
    service_env,
    start_service,
    start_upstream,
)
from chatauth.clerk.devissuer import DevIssuer  # noqa: E402


def parse_assignments(pairs: list[str]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise SystemExit(f"--b takes NAME=VALUE (got {pair!r})")
        env[name] = value
    return env


def run(args: argparse.Namespace, procs: Processes, workdir: Path) -> None:
    raise_open_files(args.concurrency * 2)
    expected = "".join(delta_texts(20))
    _, upstream = start_upstream(procs, "asyncio", argparse.Namespace(deltas=20, delay=0.05))
    if args.pg:
        database_url, drop = prepare_database(args.database_url, workdir)
    else:
        database_url, drop = f"sqlite:///{workdir / 'bench.sqlite3'}", (lambda: None)
    cache_url = args.cache_url if args.pg else "locmemcache://"
    base = {**service_env(workdir, database_url, cache_url, upstream, args.pg)}
    if not args.titles:
        base["CHAT_MODEL_TITLES"] = "false"
    changes = parse_assignments(args.b)
    if not args.pg:  # a database file each (twins take turns, but SQLite's file lock is per file)
        changes.setdefault("DATABASE_URL", f"sqlite:///{workdir / 'bench-b.sqlite3'}")
    try:
        twins = {
            "A": start_service(procs, "A", base, workdir),
            "B": start_service(procs, "B", {**base, **changes}, workdir, Path(args.b_root or ROOT)),
        }
        issuer = DevIssuer(str(workdir / "dev_issuer_key.pem"))
        tokens = [issuer.mint(f"user_compare_{i}", ttl=3600) for i in range(args.concurrency)]
        mode = "PostgreSQL + Redis, resumable" if args.pg else "SQLite"
        b_is = f"the checkout in {args.b_root}" if args.b_root else "A"
        extra = " ".join(args.b) or "nothing"
        print(f"A: the service ({mode}); B: {b_is} plus {extra}; {args.concurrency} new chats per burst")

        async def bursts() -> dict[str, list[float]]:
            cpu: dict[str, list[float]] = {"A": [], "B": []}
            for name, twin in twins.items():  # warm-up: pools, first imports
                await burst(twin, tokens[: max(1, args.concurrency // 10)], f"{name}_warm", expected)
            for round_ in range(args.rounds):
                order = ("A", "B") if round_ % 2 == 0 else ("B", "A")
                for name in order:
                    result = await burst(twins[name], tokens, f"{name}_{round_}", expected)
                    per_turn = result.cpu / args.concurrency
                    cpu[name].append(per_turn)
                    print(
                        f"   {name} round {round_ + 1}: {args.concurrency - len(result.errors)}/{args.concurrency} ok"
                        f"  wall {result.wall:6.2f} s  CPU/turn {per_turn * 1000:6.2f} ms; {load()}",
                        flush=True,
                    )
            return cpu

        cpu = asyncio.run(bursts())
        a, b = statistics.median(cpu["A"]), statistics.median(cpu["B"])
        print(f"CPU/turn median: A {a * 1000:.2f} ms, B {b * 1000:.2f} ms: B/A {b / a:.2f}x; {load()}")
    finally:
        procs.stop_all()
        drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--b", action="append", default=[], metavar="NAME=VALUE", help="twin B's extra environment")
    parser.add_argument("--b-root", metavar="DIR", help="run twin B from this checkout (e.g. a `git worktree` of main)")
    parser.add_argument("--concurrency", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--titles", action="store_true", help="leave model titles on")
    parser.add_argument("--pg", action="store_true", help="PostgreSQL + Redis, resumable (default: SQLite)")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/bench_compare")
    parser.add_argument("--cache-url", default="redis://127.0.0.1:6379/14")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-compare-"))
    procs = Processes(workdir)
    started = time.monotonic()
    try:
        run(args, procs, workdir)
    finally:
        procs.stop_all()
    print(f"bench wall time: {time.monotonic() - started:.0f} s (logs in {workdir}; {os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
