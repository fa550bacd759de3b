"""Thread-list latency at scale on PostgreSQL: a 1M-thread workspace as a ratio against a 10k-thread one.

Creates its own database, runs the project's migrations there, bulk-loads one table holding
  - W_small: workspace "user_bench_small"            10,000 threads
  - W_big:   workspace "org_bench_big:user_bench_big" 1,000,000 threads
  - others:  500 workspaces x 1,000 threads           500,000 threads
(1,510,000 rows; workspaces interleaved on the heap in insertion order, last_message_at jittered so that
heap order does not follow list order, 10% of every workspace archived), ANALYZEs it, and then times, in
interleaved rounds, for W_small and W_big alike:
  - orm first page:  services.thread_list(archived=False, limit=21), the exact query GET /api/threads runs
  - orm deep page:   the same after a keyset cursor halfway down the workspace's list
  - view first/deep: GET /api/threads (and ?cursor=...) through the real middleware, DRF view and
                     serializer, signed in with a dev-issuer session token
It prints medians, p95s and the ratio big/small per query (target: <= 1.5x), and EXPLAIN (ANALYZE, BUFFERS)
of both pages for both workspaces, checking for an index scan on thread_ws_list_idx with no Sort node.
The database is dropped at the end, also on errors, unless --keep.

    .venv/bin/python bench/threads.py [--rounds 7] [--calls 100] [--keep]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SERVER = "postgres://postgres@127.0.0.1:5432"
INDEX = "thread_ws_list_idx"
SMALL_USER, BIG_ORG, BIG_USER = "user_bench_small", "org_bench_big", "user_bench_big"
SMALL_KEY, BIG_KEY = SMALL_USER, f"{BIG_ORG}:{BIG_USER}"
# One row per g in 1..151*10_000: g % 151 < 100 -> W_big, == 100 -> W_small, else one of 500 other workspaces.
BLOCKS, OTHERS = 10_000, 500
LOAD_SQL = f"""
INSERT INTO threads_thread
    (id, workspace_key, org_id, user_id, title, is_archived, metadata, external_id,
     created_at, updated_at, last_message_at)
SELECT 'thr_' || md5(g::text),
       CASE WHEN g % 151 < 100 THEN '{BIG_KEY}' WHEN g % 151 = 100 THEN '{SMALL_KEY}'
            ELSE 'org_' || (g / 151) % {OTHERS} % 50 || ':user_' || (g / 151) % {OTHERS} END,
       CASE WHEN g % 151 < 100 THEN '{BIG_ORG}' WHEN g % 151 = 100 THEN NULL
            ELSE 'org_' || (g / 151) % {OTHERS} % 50 END,
       CASE WHEN g % 151 < 100 THEN '{BIG_USER}' WHEN g % 151 = 100 THEN '{SMALL_USER}'
            ELSE 'user_' || (g / 151) % {OTHERS} END,
       'Thread ' || g,
       g % 10 = 0,
       '{{}}'::jsonb,
       NULL,
       t0 + g * interval '1 second',
       t0 + g * interval '1 second',
       t0 + g * interval '1 second' + (hashtext(g::text) & 2147483647) % 2592000 * interval '1 second'
FROM generate_series(1, {151 * BLOCKS}) AS g, (SELECT now() - interval '50 days' AS t0) AS base
"""


def admin(sql: str) -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def summary(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def timed(fn: Callable[[], Any], calls: int) -> list[float]:
    out = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def plan(qs: Any) -> tuple[str, bool, str]:
    """EXPLAIN (ANALYZE, BUFFERS) text, whether it is an index scan on the list index with no Sort, and why not."""
    from django.db import connection

    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cur:
        cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        text = "\n".join(row[0] for row in cur.fetchall())
        cur.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        raw = cur.fetchone()[0]
    root = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
    nodes, stack = [], [root]
    while stack:
        node = stack.pop()
        nodes.append(node)
        stack.extend(node.get("Plans", []))
    kinds = {n["Node Type"] for n in nodes}
    scans = [n for n in nodes if n["Node Type"] in ("Index Scan", "Index Only Scan") and n.get("Index Name") == INDEX]
    sorts = kinds & {"Sort", "Incremental Sort"}
    ok = bool(scans) and not sorts and not kinds & {"Seq Scan", "Bitmap Heap Scan"}
    why = "" if ok else f"nodes: {sorted(kinds)}"
    return text, ok, why


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=100, help="calls per query per workspace per round")
    parser.add_argument("--db", default="bench_threads")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    admin(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')
    admin(f'CREATE DATABASE "{args.db}"')
    try:
        return run(args)
    finally:
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # Django may never have been set up
            pass
        if args.keep:
            print(f"kept database {args.db}")
        else:
            admin(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')


def run(args: argparse.Namespace) -> int:
    url = f"{SERVER}/{args.db}"
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.test_settings"}
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "--skip-checks", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    migrated = time.perf_counter()
    os.environ.update(DATABASE_URL=url, DJANGO_SETTINGS_MODULE="config.test_settings")

    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import override_settings, setup_test_environment

    from chatauth.caller import Workspace
    from threads import services
    from threads.models import Thread
    from threads.pagination import encode_cursor

    with connection.cursor() as cur:
        cur.execute(LOAD_SQL)
        cur.execute("VACUUM ANALYZE threads_thread")
        cur.execute("SELECT workspace_key, count(*) FROM threads_thread GROUP BY workspace_key")
        counts = cur.fetchall()
        cur.execute("SELECT pg_size_pretty(pg_total_relation_size('threads_thread'))")
        size = cur.fetchone()[0]
    loaded = time.perf_counter()
    per_ws = dict(counts)
    total = sum(per_ws.values())
    others = [n for key, n in per_ws.items() if key not in (SMALL_KEY, BIG_KEY)]
    print(
        f"PostgreSQL database {args.db}: migrate {migrated - started:.1f}s, load + VACUUM ANALYZE "
        f"{loaded - migrated:.1f}s; threads_thread {total:,} rows, {size} with indexes"
    )
    print(
        f"  W_small {SMALL_KEY!r}: {per_ws[SMALL_KEY]:,} threads; W_big {BIG_KEY!r}: {per_ws[BIG_KEY]:,} threads; "
        f"{len(others)} other workspaces hold {sum(others):,} ({min(others):,}-{max(others):,} each); 10% archived"
    )

    small, big = Workspace(user_id=SMALL_USER), Workspace(user_id=BIG_USER, org_id=BIG_ORG)

    def list_qs(ws: Workspace) -> Any:
        return Thread.objects.for_workspace(ws).filter(is_archived=False).order_by("-last_message_at", "-id")

    def middle(ws: Workspace) -> Thread:
        """The row halfway down the active list: the deep page starts right after it."""
        n = list_qs(ws).count()
        return list_qs(ws).only("id", "last_message_at")[n // 2]

    cursors = {"small": middle(small), "big": middle(big)}
    workspaces = {"small": small, "big": big}

    def keyset_qs(name: str) -> Any:
        from django.db.models import F
        from django.db.models.fields.tuple_lookups import Tuple, TupleLessThan

        row = cursors[name]
        after = (row.last_message_at, row.id)
        return list_qs(workspaces[name]).filter(TupleLessThan(Tuple(F("last_message_at"), F("id")), after))[:21]

    setup_test_environment()
    logging.disable(logging.WARNING)
    tmp = tempfile.TemporaryDirectory()
    with override_settings(CLERK={"DEV_ISSUER": True, "DEV_KEY_FILE": str(Path(tmp.name) / "dev_key.pem")}):
        from chatauth.clerk.devissuer import dev_issuer

        issuer = dev_issuer()
        tokens = {"small": issuer.mint(SMALL_USER), "big": issuer.mint(BIG_USER, org_id=BIG_ORG)}
        client = Client()

        def view(name: str, deep: bool) -> Callable[[], Any]:
            headers = {"Authorization": f"Bearer {tokens[name]}"}
            query = {"cursor": encode_cursor(cursors[name])} if deep else {}

            def call() -> Any:
                response = client.get("/api/threads", query, headers=headers)
                assert response.status_code == 200, response.content[:300]
                return response

            return call

        def orm(name: str, deep: bool) -> Callable[[], Any]:
            ws, row = workspaces[name], cursors[name]
            after = (row.last_message_at, row.id) if deep else None
            return lambda: services.thread_list(workspace=ws, archived=False, limit=21, after=after)

        queries: dict[str, dict[str, Callable[[], Any]]] = {
            "orm first page": {n: orm(n, False) for n in workspaces},
            "orm deep page": {n: orm(n, True) for n in workspaces},
            "view first page": {n: view(n, False) for n in workspaces},
            "view deep page": {n: view(n, True) for n in workspaces},
        }
        # Sanity: both deep pages are full and really start after the cursor.
        for name in workspaces:
            body = queries["view deep page"][name]().json()
            assert len(body["threads"]) == 20 and body["next_cursor"], body
            assert [t.id for t in orm(name, True)()] == [t.id for t in keyset_qs(name)]
        for fns in queries.values():  # warm-up: caches, connection, buffers
            for fn in fns.values():
                timed(fn, 20)

        samples: dict[tuple[str, str], list[float]] = {(q, n): [] for q in queries for n in workspaces}
        for r in range(args.rounds):  # interleaved (and alternating order), so noise hits both alike
            order = ["small", "big"] if r % 2 == 0 else ["big", "small"]
            for q, fns in queries.items():
                for n in order:
                    samples[(q, n)].extend(timed(fns[n], args.calls))
    tmp.cleanup()
    measured = time.perf_counter()

    print(
        f"\n{args.rounds} interleaved rounds x {args.calls} calls per query per workspace "
        f"(page of 20 active threads, limit+1 = 21 rows fetched); {measured - loaded:.1f}s"
    )
    print(f"{'query':<17}{'10k median':>12}{'10k p95':>10}{'1M median':>12}{'1M p95':>10}{'ratio 1M/10k':>15}")
    worst = 0.0
    for q in queries:
        s_med, s_p95 = summary(samples[(q, "small")])
        b_med, b_p95 = summary(samples[(q, "big")])
        ratio = b_med / s_med
        worst = max(worst, ratio)
        print(
            f"{q:<17}{s_med * 1e3:>10.3f}ms{s_p95 * 1e3:>8.3f}ms{b_med * 1e3:>10.3f}ms{b_p95 * 1e3:>8.3f}ms"
            f"{ratio:>14.2f}x"
        )
    target_ok = worst <= 1.5
    print(f"worst ratio {worst:.2f}x: {'within' if target_ok else 'OVER'} the 1.5x target")

    plans_ok = True
    for label, qs in [
        ("W_small (10k) first page", list_qs(small)[:21]),
        ("W_big (1M) first page", list_qs(big)[:21]),
        ("W_small (10k) deep page", keyset_qs("small")),
        ("W_big (1M) deep page", keyset_qs("big")),
    ]:
        text, ok, why = plan(qs)
        plans_ok &= ok
        verdict = f"index scan on {INDEX}, no Sort" if ok else f"NOT an index scan on {INDEX} ({why})"
        print(f"\nEXPLAIN (ANALYZE, BUFFERS) {label}: {verdict}")
        print("  " + text.replace("\n", "\n  "))
    if not plans_ok:
        print(
            f"\nFix (do not change here): the list needs a btree on (workspace_key, is_archived, last_message_at DESC, "
            f"id DESC) named {INDEX}, and the query must filter workspace_key and is_archived by equality, order by "
            "(-last_message_at, -id) and compare the cursor as one row value (last_message_at, id) < (%s, %s)."
        )
    print(
        f"\ntotal {time.perf_counter() - started:.1f}s; plans {'OK' if plans_ok else 'NOT OK'}; "
        f"ratio target {'met' if target_ok else 'missed'}"
    )
    return 0 if plans_ok and target_ok else 1


if __name__ == "__main__":
    sys.exit(main())
