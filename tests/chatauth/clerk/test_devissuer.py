"""The development issuer: on only in development, Clerk-shaped tokens, the same verification path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from chatauth.clerk.devissuer import DevIssuer
from tests.support.paths import ROOT

pytestmark = pytest.mark.django_db


def _settings_in_subprocess(**env: str) -> dict[str, Any]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CLERK_", "DEBUG", "SECRET_KEY"))}
    code = (
        "import json, config.settings, django; django.setup(); from chatauth.clerk.conf import clerk_settings as s; "
        "print(json.dumps({'dev': s.DEV_ISSUER}))"
    )
    env = {"DJANGO_SETTINGS_MODULE": "config.test_settings", **clean, **env}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    return {"returncode": result.returncode, "stdout": result.stdout, "stderr": result.stderr}


def test_dev_issuer_is_on_by_default_in_debug_without_clerk_keys():
    assert json.loads(_settings_in_subprocess(DEBUG="true")["stdout"])["dev"] is True


def test_dev_issuer_is_off_when_debug_is_off():
    result = _settings_in_subprocess(DEBUG="false", SECRET_KEY="x" * 50)
    assert json.loads(result["stdout"])["dev"] is False


def test_dev_issuer_is_off_when_a_clerk_key_is_configured():
    result = _settings_in_subprocess(DEBUG="true", CLERK_JWKS_URL="https://clerk.example.com/.well-known/jwks.json")
    assert json.loads(result["stdout"])["dev"] is False


def test_dev_issuer_can_only_be_forced_explicitly_with_debug_off():
    result = _settings_in_subprocess(DEBUG="false", SECRET_KEY="x" * 50, CLERK_DEV_ISSUER="force")
    assert json.loads(result["stdout"])["dev"] is True


def test_debug_off_without_secret_key_refuses_to_start():
    result = _settings_in_subprocess(DEBUG="false")
    assert result["returncode"] != 0
    assert "SECRET_KEY" in result["stderr"]


def test_dev_token_command_prints_a_token_the_api_accepts(dev_issuer_on):
    token = call_command("dev_token", "--user", "user_cli", "--org", "org_cli", "--role", "admin", stdout=StringIO())
    body = APIClient().get("/api/me", HTTP_AUTHORIZATION=f"Bearer {token}").json()
    assert (body["user_id"], body["org_id"], body["org_role"]) == ("user_cli", "org_cli", "org:admin")


def test_dev_token_permissions_round_trip_through_v2_bitmasks(dev_issuer_on):
    token = call_command(
        "dev_token",
        "--user",
        "u",
        "--org",
        "o",
        "--permission",
        "billing:read",
        "--permission",
        "billing:manage",
        "--permission",
        "reports:read",
        stdout=StringIO(),
    )
    body = APIClient().get("/api/me", HTTP_AUTHORIZATION=f"Bearer {token}").json()
    assert sorted(body["org_permissions"]) == ["org:billing:manage", "org:billing:read", "org:reports:read"]


def test_dev_token_v1_claims_are_accepted(dev_issuer_on):
    token = call_command("dev_token", "--user", "u", "--org", "o", "--claims-version", "1", stdout=StringIO())
    assert APIClient().get("/api/me", HTTP_AUTHORIZATION=f"Bearer {token}").json()["workspace"] == "o:u"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--user", "u", "--permission", "billing:read"], "--permission needs --org"),
        (["--user", "u", "--org", "o", "--permission", "nocolon"], "expected FEATURE:PERMISSION"),
        (["--user", "u", "--ttl", "0"], "--ttl must be a positive"),
        (["--user", "  "], "--user must not be empty"),
    ],
)
def test_dev_token_bad_arguments_are_clear_errors(dev_issuer_on, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("dev_token", *args, stdout=StringIO())


def test_dev_token_refuses_when_the_dev_issuer_is_off(settings):
    settings.CLERK = {"DEV_ISSUER": False}
    with pytest.raises(CommandError, match="development issuer is off"):
        call_command("dev_token", "--user", "u", stdout=StringIO())


def test_dev_tokens_are_refused_once_a_real_clerk_key_is_configured(settings, make_token, signing_key):
    token = make_token("user_dev")
    settings.CLERK = {"JWT_KEY": signing_key.public_pem, "DEV_ISSUER": True}
    assert APIClient().get("/api/me", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401


def test_dev_jwks_is_served_only_when_the_dev_issuer_is_on(settings, dev_issuer_on):
    assert APIClient().get("/dev/.well-known/jwks.json").json()["keys"][0]["kty"] == "RSA"
    settings.CLERK = {"DEV_ISSUER": False}
    assert APIClient().get("/dev/.well-known/jwks.json").status_code == 404


def test_workers_sharing_a_key_file_share_the_key(tmp_path):
    first, second = DevIssuer(str(tmp_path / "k.pem")), DevIssuer(str(tmp_path / "k.pem"))
    assert first.kid == second.kid
    assert oct((tmp_path / "k.pem").stat().st_mode & 0o777) == "0o600"
