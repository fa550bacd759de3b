"""First-request latency of a fresh worker vs its steady state: `python bench/first_request.py [--runs 3] [--chat]`.

`WARM_UP=false` measures a worker without the start-up warm-up. Starts `uvicorn config.asgi:application`
(development settings, SQLite in a temp dir), waits until the port accepts
connections (not until a request succeeds: that request would be the one measured), then times the first
`GET /api/threads` with a Bearer token and the next 100. Prints the first request and the median of the rest.

With `--chat`, the request timed is a new chat's `POST /api/chat`, to its first text-delta, against the bench's
OpenAI-compatible upstream on loopback (its own process, answering at once): the first and the median of the
next 30 (each a new chat).
"""

from __future__ import annotations

import argparse
import os
import secrets
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


def first_text_delta(client: httpx.Client) -> float:
    """Seconds from sending a new chat's first message (as the AI SDK sends it) to reading its first text-delta."""
    body = {
        "id": f"thread_{secrets.token_hex(8)}",
        "trigger": "submit-message",
        "messages": [{"id": f"m_{secrets.token_hex(6)}", "role": "user", "parts": [{"type": "text", "text": "hi"}]}],
    }
    start = time.perf_counter()
    with client.stream("POST", "/api/chat", json=body) as response:
        if response.status_code != 200:
            raise RuntimeError(f"POST /api/chat: HTTP {response.status_code} {response.read()[:200]!r}")
        seen = b""
        elapsed = None
        for piece in response.iter_raw():  # read to the end: the next chat starts once this one is over
            seen += piece
            if elapsed is None and b'"text-delta"' in seen:
                elapsed = time.perf_counter() - start
    if elapsed is None:
        raise RuntimeError("the chat's reply had no text-delta")
    return elapsed


def timed(client: httpx.Client, chat: bool) -> tuple[float, list[float]]:
    """The first request of the worker and the next ones (100 thread lists, or 30 new chats)."""
    if chat:
        return first_text_delta(client), [first_text_delta(client) for _ in range(30)]
    start = time.perf_counter()
    assert client.get("/api/threads").status_code == 200
    first = time.perf_counter() - start
    rest = []
    for _ in range(100):
        start = time.perf_counter()
        client.get("/api/threads")
        rest.append(time.perf_counter() - start)
    return first, rest


def one_run(env: dict[str, str], token: str, chat: bool) -> tuple[float, float]:
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
            first, rest = timed(client, chat)
        return first, statistics.median(rest)
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--chat", action="store_true", help="time a new chat's first text-delta instead")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="first-request-")
    basics = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "TMPDIR", "VIRTUAL_ENV", "WARM_UP"}}
    env = {**basics, "DEBUG": "true", "DATABASE_URL": f"sqlite:///{tmp}/db.sqlite3", "LOG_LEVEL": "WARNING"}
    upstream = None
    if args.chat:
        upstream = subprocess.Popen(
            [sys.executable, str(ROOT / "bench/support/upstream.py"), "--delay", "0", "--deltas", "3"],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert upstream.stdout is not None
        url = upstream.stdout.readline().split()[-1]  # "listening on http://127.0.0.1:PORT"
        env |= {
            "OPENAI_API_KEY": "bench",
            "OPENAI_BASE_URL": f"{url}/v1",
            "CHAT_RATE_LIMIT_REQUESTS": "1000000",
            "CHAT_MODEL_TITLES": "false",
        }
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    token = subprocess.run(
        [sys.executable, "manage.py", "dev_token", "--user", "user_bench"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    what = "new chat to its first text-delta" if args.chat else "GET /api/threads"
    try:
        for i in range(args.runs):
            first, steady = one_run(env, token, args.chat)
            print(
                f"run {i + 1} ({what}): first request {first * 1000:.1f} ms, "
                f"median of the next {30 if args.chat else 100} {steady * 1000:.1f} ms ({first / steady:.1f}x)"
            )
    finally:
        if upstream is not None:
            upstream.terminate()
            upstream.wait(10)


if __name__ == "__main__":
    main()
