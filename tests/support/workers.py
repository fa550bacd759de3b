"""Real worker processes of the service: uvicorn subprocesses sharing the test database and Redis, and a TCP proxy
that can cut a worker off from the database."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.support.live_server import free_port
from tests.support.paths import ROOT


class TcpProxy:
    """Forwards loopback connections to `target`; `cut()` drops every connection and refuses new ones."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._cut = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self._cut.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets |= {client, upstream}
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()

    def _pipe(self, a: socket.socket, b: socket.socket) -> None:
        try:
            while not self._cut.is_set():
                readable, _, _ = select.select([a, b], [], [], 0.2)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (b if sock is a else a).sendall(data)
        except OSError:
            pass
        finally:
            for sock in (a, b):
                self._close(sock)

    def _close(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)
        try:
            sock.close()
        except OSError:
            pass

    def cut(self) -> None:
        self._cut.set()
        with self._lock:
            live = list(self._sockets)
        for sock in live:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._close(sock)

    def restore(self) -> None:
        self._cut.clear()

    def stop(self) -> None:
        self._stop.set()
        self.cut()
        self.listener.close()


def database_url_of(settings_dict: dict[str, Any]) -> str:
    user = settings_dict.get("USER") or "postgres"
    password = f":{settings_dict['PASSWORD']}" if settings_dict.get("PASSWORD") else ""
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{settings_dict['NAME']}"


def worker_env(**overrides: str) -> dict[str, str]:
    """A production-like environment (config.settings, DEBUG off): nothing inherited but the basics."""
    keep = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "TMPDIR", "VIRTUAL_ENV"}}
    return {
        **keep,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "false",
        "SECRET_KEY": "worker-test-secret-key-0123456789-0123456789",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        **overrides,
    }


class Worker:
    """`python -m uvicorn config.asgi:application` in its own process, as in production."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.log = tempfile.NamedTemporaryFile(prefix="worker-", suffix=".log", delete=False)
        self._spawn()

    def _spawn(self) -> None:
        # The port is free when chosen, but the process binds it only after importing Django: another worker (or
        # another job on the machine) may take it meanwhile. `wait_ready` then starts this one on a new port.
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log.truncate(0)
        self.log.seek(0)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "config.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--no-access-log",
                "--lifespan",
                "off",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 90) -> Worker:
        """Until /healthz answers; generous, since a loaded machine can take long to import Django."""
        deadline = time.monotonic() + timeout
        respawns = 3
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                if "address already in use" in self.output().lower() and respawns:
                    respawns -= 1
                    self._spawn()
                    continue
                raise RuntimeError(f"worker exited with {self.process.returncode}:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"worker did not start:\n{self.output()}")

    def kill(self) -> None:
        """Die the way a crashed worker does: no cleanup, no goodbye."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()
        os.unlink(self.log.name)


@contextmanager
def worker_pair(env: dict[str, str]) -> Iterator[tuple[Worker, Worker]]:
    """Two workers with the same environment, started together; both stopped afterwards, however it went."""
    pair = Worker(env), Worker(env)
    try:
        yield pair[0].wait_ready(), pair[1].wait_ready()
    finally:
        for worker in pair:
            worker.stop()


def migrate(env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr)
