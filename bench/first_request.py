"""First-request latency of a fresh worker vs its steady state: `python bench/first_request.py [--runs 3]`.

`WARM_UP=false` measures a worker without the start-up warm-up. Starts `uvicorn config.asgi:application`
(development settings, SQLite in a temp dir), waits until the port accepts
connections (not until a request succeeds: that request would be the one measured), then times the first
`GET /api/threads` with a Bearer token and the next 100. Prints the first request and the median of the rest.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_run(env: dict[str, str], token: str) -> tuple[float, float]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "config.asgi:application",
            "--port",
            str(port),
            "--no-access-log",
            "--lifespan",
            "off",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("uvicorn did not start") from None
                time.sleep(0.01)
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=60) as client:
            start = time.perf_counter()
            assert client.get("/api/threads").status_code == 200
            first = time.perf_counter() - start
            rest = []
            for _ in range(100):
                start = time.perf_counter()
                client.get("/api/threads")
                rest.append(time.perf_counter() - start)
        return first, statistics.median(rest)
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="first-request-")
    basics = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "TMPDIR", "VIRTUAL_ENV", "WARM_UP"}}
    env = {**basics, "DEBUG": "true", "DATABASE_URL": f"sqlite:///{tmp}/db.sqlite3", "LOG_LEVEL": "WARNING"}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    token = subprocess.run(
        [sys.executable, "manage.py", "dev_token", "--user", "user_bench"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    for i in range(args.runs):
        first, steady = one_run(env, token)
        print(
            f"run {i + 1}: first request {first * 1000:.1f} ms, median of the next 100 {steady * 1000:.1f} ms "
            f"({first / steady:.1f}x)"
        )


if __name__ == "__main__":
    main()
