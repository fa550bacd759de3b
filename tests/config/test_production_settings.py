"""With DEBUG off the service refuses to start half-configured: SECRET_KEY, ALLOWED_HOSTS, a Clerk key."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support.paths import ROOT

PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "DEBUG": "false",
    "SECRET_KEY": "k" * 50,
    "ALLOWED_HOSTS": "api.example.com",
    "CLERK_PUBLISHABLE_KEY": "pk_live_Y2xlcmsuZXhhbXBsZS5jb20k",
}


def start(*, drop: tuple[str, ...] = (), code: str = "import config.asgi", **extra: str) -> subprocess.CompletedProcess:
    """Load the ASGI application (what uvicorn does at start) in a clean environment."""
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CLERK_", "DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DJANGO_SETTINGS_MODULE"))
    }
    env = {**base, **{k: v for k, v in PRODUCTION.items() if k not in drop}, **extra}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_a_complete_production_configuration_starts():
    result = start()
    assert result.returncode == 0, result.stderr


def test_no_secret_key_refuses_to_start():
    result = start(drop=("SECRET_KEY",))
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_no_allowed_hosts_refuses_to_start():
    result = start(drop=("ALLOWED_HOSTS",))
    assert result.returncode != 0
    assert "ImproperlyConfigured: Refusing to start with DEBUG off: ALLOWED_HOSTS is empty" in result.stderr


def test_no_clerk_key_refuses_to_start():
    result = start(drop=("CLERK_PUBLISHABLE_KEY",))
    assert result.returncode != 0
    assert "No Clerk key: set CLERK_PUBLISHABLE_KEY" in result.stderr


@pytest.mark.parametrize(
    "key",
    [
        {"CLERK_JWT_KEY": "-----BEGIN PUBLIC KEY-----..."},
        {"CLERK_JWKS_URL": "https://clerk.example.com/.well-known/jwks.json"},
        {"CLERK_SECRET_KEY": "sk_live_x"},
    ],
)
def test_any_clerk_key_source_is_enough(key):
    assert start(drop=("CLERK_PUBLISHABLE_KEY",), **key).returncode == 0


def test_a_forced_development_issuer_may_start_without_a_clerk_key():
    assert start(drop=("CLERK_PUBLISHABLE_KEY",), CLERK_DEV_ISSUER="force").returncode == 0


def test_every_missing_piece_is_named_at_once():
    result = start(drop=("ALLOWED_HOSTS", "CLERK_PUBLISHABLE_KEY"))
    assert "ALLOWED_HOSTS is empty" in result.stderr and "No Clerk key" in result.stderr


def test_manage_py_refuses_too():
    result = start(drop=("ALLOWED_HOSTS",), code="import sys, manage; sys.argv = ['manage.py', 'check']; manage.main()")
    assert result.returncode != 0
    assert "ALLOWED_HOSTS is empty" in result.stderr


def test_debug_on_starts_with_the_development_defaults():
    assert start(drop=("SECRET_KEY", "ALLOWED_HOSTS", "CLERK_PUBLISHABLE_KEY"), DEBUG="true").returncode == 0
