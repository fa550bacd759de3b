"""Development without ceremony: in a fresh clone (no `.env`, no production setting in the environment) `manage.py`
commands just work, with no `DEBUG=true` prefix; any production signal turns DEBUG off and a missing requirement is
refused in one line naming it, not a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.paths import ROOT


def run(*args: str, **env: str) -> subprocess.CompletedProcess:
    basics = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "TMPDIR", "VIRTUAL_ENV"}}
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env={**basics, **env}, capture_output=True, text=True, timeout=120
    )


def test_manage_py_commands_work_with_no_settings_at_all() -> None:
    assert not (ROOT / ".env").exists() or "DEBUG" not in (ROOT / ".env").read_text()  # what a fresh clone has
    check = run("manage.py", "check")
    assert check.returncode == 0, check.stderr
    token = run("manage.py", "dev_token", "--user", "user_fresh")
    assert token.returncode == 0, token.stderr
    assert token.stdout.count(".") == 2  # a JWT, from the development issuer
    asgi = run("-c", "import config.asgi, django.conf as c; print(c.settings.DEBUG)")
    assert asgi.returncode == 0 and asgi.stdout.strip() == "True", asgi.stderr


def test_a_production_signal_turns_debug_off_and_refuses_in_one_line() -> None:
    result = run("manage.py", "check", DATABASE_URL="sqlite:////tmp/never-created.sqlite3")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "SECRET_KEY must be set when DEBUG is off (DEBUG is off because DATABASE_URL is set)." in result.stderr
    assert len([line for line in result.stderr.splitlines() if "ImproperlyConfigured" in line]) == 1


def test_an_explicit_debug_always_wins() -> None:
    result = run("manage.py", "check", DEBUG="false")
    assert result.returncode == 2 and "SECRET_KEY must be set" in result.stderr
    assert run("manage.py", "check", DEBUG="true", DATABASE_URL="sqlite:////tmp/dev-explicit.sqlite3").returncode == 0
