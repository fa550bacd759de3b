"""manage.py check_clerk: the Clerk configuration checked end to end, problems printed, exit status."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.conftest import ISSUER
from tests.support.live_server import free_port
from tests.support.paths import ROOT

GOOD_SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


@pytest.fixture
def good_clerk(settings, jwks_server):
    settings.CLERK = {
        "JWKS_URL": jwks_server.url,
        "ISSUER": ISSUER,
        "AUTHORIZED_PARTIES": ["https://app.example.com", "http://localhost:3000"],
        "DEV_ISSUER": False,
    }
    settings.OPS = {"CLERK_WEBHOOK_SIGNING_SECRET": GOOD_SECRET}
    return jwks_server


def check(*args: str) -> str:
    out = StringIO()
    call_command("check_clerk", *args, stdout=out)
    return out.getvalue()


def check_failing(*args: str) -> tuple[str, str]:
    out = StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("check_clerk", *args, stdout=out)
    return out.getvalue(), str(raised.value)


def test_a_good_configuration_passes_and_says_what_it_checked(good_clerk, signing_key):
    out = check()
    assert f"[ok] Key source: the JWKS at {good_clerk.url} (from CLERK_JWKS_URL)." in out
    assert f"[ok] The JWKS has 1 RSA signing key(s): {signing_key.kid}." in out
    assert f"[ok] Issuer: {ISSUER}" in out
    assert "[ok] Authorized parties: https://app.example.com, http://localhost:3000" in out
    assert "Clerk configuration looks right (0 warning(s))." in out
    assert good_clerk.hits == 1


def test_an_unreachable_jwks_is_a_problem(settings, good_clerk):
    settings.CLERK = {**settings.CLERK, "JWKS_URL": f"http://127.0.0.1:{free_port()}/.well-known/jwks.json"}
    out, error = check_failing("--timeout", "2")
    assert "[problem] The JWKS is unreachable: ConnectError" in out
    assert error == "Clerk configuration: 1 problem(s), 0 warning(s)."


def test_a_jwks_error_status_is_a_problem(good_clerk):
    good_clerk.status = 401
    out, _ = check_failing()
    assert "[problem] The JWKS answered HTTP 401 (is CLERK_SECRET_KEY right?)." in out


def test_a_jwks_without_rsa_keys_is_a_problem(good_clerk):
    good_clerk.document = {"keys": [{"kty": "oct", "kid": "k", "k": "c2VjcmV0"}]}
    out, _ = check_failing()
    assert "[problem] The JWKS has no RSA signing keys" in out


def test_an_authorized_party_that_is_not_an_origin_is_a_problem(settings, good_clerk):
    settings.CLERK = {**settings.CLERK, "AUTHORIZED_PARTIES": ["app.example.com", "https://app.example.com/path"]}
    out, error = check_failing()
    assert "[problem] Authorized party 'app.example.com' is not an origin" in out
    assert "[problem] Authorized party 'https://app.example.com/path' is not an origin" in out
    assert error.startswith("Clerk configuration: 2 problem(s)")


def test_an_http_issuer_is_a_problem(settings, good_clerk):
    settings.CLERK = {**settings.CLERK, "ISSUER": "http://clerk.example.test"}
    out, _ = check_failing()
    assert "[problem] The issuer 'http://clerk.example.test' is not an https URL" in out


def test_no_clerk_key_is_a_problem(settings):
    settings.CLERK = {"DEV_ISSUER": False}
    out, _ = check_failing()
    assert "[problem] No Clerk key configured" in out


def test_a_pem_key_is_checked_without_network(settings, signing_key):
    settings.CLERK = {"JWT_KEY": signing_key.public_pem, "ISSUER": ISSUER, "AUTHORIZED_PARTIES": ["https://a.example"]}
    settings.OPS = {"CLERK_WEBHOOK_SIGNING_SECRET": GOOD_SECRET}
    assert "[ok] Key source: CLERK_JWT_KEY" in check()


def test_a_broken_pem_key_is_a_problem(settings):
    settings.CLERK = {"JWT_KEY": "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----", "ISSUER": ISSUER}
    out, _ = check_failing()
    assert "[problem] CLERK_JWT_KEY is not a PEM public key." in out


def test_missing_authorized_parties_and_webhook_secret_are_warnings(settings, good_clerk):
    settings.CLERK = {**settings.CLERK, "AUTHORIZED_PARTIES": []}
    settings.OPS = {}
    out = check()
    assert "[warning] No CLERK_AUTHORIZED_PARTIES" in out
    assert "[warning] No CLERK_WEBHOOK_SIGNING_SECRET" in out
    assert "looks right (2 warning(s))" in out


def test_strict_turns_warnings_into_failure(settings, good_clerk):
    settings.OPS = {}
    _, error = check_failing("--strict")
    assert error == "Clerk configuration: 0 problem(s), 1 warning(s)."


def test_a_malformed_webhook_secret_is_a_problem(settings, good_clerk):
    settings.OPS = {"CLERK_WEBHOOK_SIGNING_SECRET": "not-a-svix-secret"}
    out, _ = check_failing()
    assert "[problem] CLERK_WEBHOOK_SIGNING_SECRET is not a Svix secret" in out


def test_the_development_issuer_passes_in_debug(settings, dev_issuer_on):
    settings.DEBUG = True
    assert "[ok] Key source: the development issuer" in check()


def test_a_forced_development_issuer_with_debug_off_is_a_problem(dev_issuer_on):
    out, _ = check_failing()
    assert "[problem] Key source: the development issuer with DEBUG off" in out


def test_a_bad_timeout_is_refused(good_clerk):
    with pytest.raises(CommandError, match="--timeout must be a positive"):
        call_command("check_clerk", "--timeout", "0")


def test_exit_status_is_one_with_problems_and_zero_without(jwks_server):
    base = {
        k: v for k, v in os.environ.items() if not k.startswith(("CLERK_", "DEBUG", "ALLOWED_HOSTS", "DJANGO_SETTINGS"))
    }
    env = {
        **base,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": "s" * 50,
        "ALLOWED_HOSTS": "api.example.com",
        "CLERK_ISSUER": ISSUER,
        "CLERK_AUTHORIZED_PARTIES": "https://app.example.com",
        "CLERK_WEBHOOK_SIGNING_SECRET": GOOD_SECRET,
    }

    def run(jwks_url: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", "check_clerk", "--timeout", "2", "--no-color"],
            cwd=ROOT,
            env={**env, "CLERK_JWKS_URL": jwks_url},
            capture_output=True,
            text=True,
            timeout=60,
        )

    good = run(jwks_server.url)
    assert good.returncode == 0, good.stderr
    bad = run(f"http://127.0.0.1:{free_port()}/jwks.json")
    assert bad.returncode == 1
    assert "[problem] The JWKS is unreachable" in bad.stdout
    assert "CommandError: Clerk configuration: 1 problem(s)" in bad.stderr
