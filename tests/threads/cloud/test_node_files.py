"""The real `assistant-cloud` client (Node) on files, scores, feedback, run leases and the project listing, in
every auth mode: uploads through the presigned URL it is given, downloads, refusals (tampered, expired, wrong
type, wrong bytes), a second workspace that reaches none of it, and API-key-only project listing."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.cloud import KEY_A, PROVIDER_ISSUER
from tests.support.node import needs_npm
from tests.support.paths import NODE_DIR

pytestmark = [pytest.mark.node, needs_npm("assistant-cloud")]

URL_TTL = 4  # whole seconds from now, rounded down: at least 3 s for the script's uses of one URL


@pytest.fixture
def file_settings(settings: Any, tmp_path: Path) -> Path:
    settings.CLOUD = {"SIGNING_KEYS": [KEY_A], "ANONYMOUS_ENABLED": True}
    settings.ATTACHMENTS = {"URL_TTL_SECONDS": URL_TTL}
    root = tmp_path / "attachments"
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(root)}},
    }
    return root


def run_files_client(config: dict[str, Any]) -> dict[str, Any]:
    proc = subprocess.run(
        ["node", str(NODE_DIR / "cloud_files.mjs")],
        input=json.dumps({"urlTtlMs": URL_TTL * 1000, **config}),
        capture_output=True,
        text=True,
        cwd=NODE_DIR,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def assert_files_scenario(out: dict[str, Any], root: Path) -> None:
    from threads.models import Attachment, MessageFeedback, RunLease, Score

    assert out["upload"]["success"] is True and out["upload"]["hasKey"] is True
    assert out["tamperedPut"] == 403 and out["put"] == 200
    assert out["download"] == {"status": 200, "same": True, "type": "image/png", "key": out["key"]}
    assert out["downloadByUrl"] is True and out["tamperedGet"] == 403
    assert out["badType"] == "415 unsupported_file_type"
    assert out["mismatch"]["status"] == 415 and out["mismatch"]["error"] == "content_type_mismatch"
    assert out["pdfToImages"] == "404 not_found"
    assert out["textPut"] == 200
    assert out["expiredGet"] == 403

    attachment = Attachment.unscoped_for_operators.get(id=out["key"])
    assert attachment.status == "ready" and attachment.size == 69 and attachment.thread_id == out["threadId"]
    assert (root / attachment.storage_key).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    scores = out["scores"]
    assert scores["same"] is True and scores["second"]["value"] == 0.75
    assert scores["boolean"]["value"] == 1 and scores["boolean"]["data_type"] == "boolean"
    assert scores["categorical"] == {**scores["categorical"], "value": None, "string_value": "friendly"}
    assert out["scoreBad"] == "400 invalid_request"
    assert Score.unscoped_for_operators.filter(thread_id=out["threadId"]).count() == 3

    assert out["feedback"]["same"] is True and out["feedback"]["second"]["type"] == "negative"
    assert MessageFeedback.unscoped_for_operators.filter(message__thread_id=out["threadId"]).count() == 1

    assert out["lease"]["hasLease"] is True and out["lease"]["interval"] == 10_000
    assert out["heartbeat"] == {"heartbeat_interval_ms": 10_000}
    assert out["running"]["run"]["status"] == "running" and out["running"]["text"] == "partial 2"
    assert 0 <= out["running"]["run"]["last_heartbeat_ms_ago"] < 60_000
    assert out["wrongLease"] == "409 lease_mismatch" and out["unknownLeaseBeat"] == "404 not_found"
    assert out["afterEnd"]["heartbeat"] == "409 run_ended" and out["afterEnd"]["write"] == "409 run_ended"
    assert out["afterEnd"]["run"]["status"] == "ended"
    assert RunLease.unscoped_for_operators.get(thread_id=out["threadId"]).end_reason == "done"

    assert out["second"] == {
        "downloadByKey": "404 not_found",
        "downloadByUrl": "404 not_found",
        "score": "404 not_found",
        "feedback": "404 not_found",
        "heartbeat": "404 not_found",
        "messages": "404 not_found",
    }


def test_files_scores_leases_with_backend_issued_tokens(
    live_server_url: str, make_token: Any, file_settings: Path
) -> None:
    out = run_files_client(
        {
            "baseUrl": live_server_url,
            "mode": "jwt",
            "first": {"sessionToken": make_token("user_f1", org="org_f")},
            "second": {"sessionToken": make_token("user_f2", org="org_f")},
        }
    )
    assert_files_scenario(out, file_settings)
    assert out["projects"] == "403 permission_denied"


def test_files_and_project_listing_with_an_api_key(
    live_server_url: str, api_key: tuple[Any, str], file_settings: Path
) -> None:
    from chatauth.caller import Workspace
    from threads import services

    services.thread_create(workspace=Workspace("user_elsewhere", "proj_9"), title="another workspace")
    _, raw = api_key
    out = run_files_client(
        {
            "baseUrl": live_server_url,
            "mode": "apikey",
            "first": {"apiKey": raw, "userId": "user_k1", "workspaceId": "proj_1:user_k1"},
            "second": {"apiKey": raw, "userId": "user_k2", "workspaceId": "proj_1:user_k2"},
        }
    )
    assert_files_scenario(out, file_settings)
    assert out["projects"] == "ok"
    first, second = out["projectPages"]
    assert len(first) == 1 and len(second) == 1 and first != second  # both workspaces' threads, paged
    assert out["projectMessages"] == 2 and out["projectArchived"] == 0
    assert out["projectMissing"] == "404 not_found"
    assert out["projectsViaWorkspaceToken"] == "403 permission_denied"


def test_files_in_anonymous_mode(live_server_url: str, file_settings: Path) -> None:
    out = run_files_client({"baseUrl": live_server_url, "mode": "anonymous", "first": {}, "second": {}})
    assert_files_scenario(out, file_settings)
    assert out["projects"] == "403 permission_denied"


def test_files_with_provider_jwts(
    live_server_url: str, provider_rule: Any, signing_key: Any, file_settings: Path
) -> None:
    def provider_token(sub: str) -> str:
        now = int(time.time())
        claims = {"iss": PROVIDER_ISSUER, "sub": sub, "aud": "assistant-ui", "iat": now, "nbf": now - 5}
        return signing_key.sign({**claims, "exp": now + 120, "azp": "http://app.example.test"})

    out = run_files_client(
        {
            "baseUrl": live_server_url,
            "mode": "provider",
            "first": {"providerToken": provider_token("user_pf1")},
            "second": {"providerToken": provider_token("user_pf2")},
        }
    )
    assert_files_scenario(out, file_settings)
    assert out["projects"] == "403 permission_denied"
