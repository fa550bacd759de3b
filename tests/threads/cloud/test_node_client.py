"""The real `assistant-cloud` npm client, run with Node against the live service, in every auth mode.

Each run creates, lists (active and archived), pages, renames, archives and deletes threads; stores and
loads message trees in `aui/v0` and `ai-sdk/v6`; sends feedback, a title run and a run report; waits past
its cached token's window so it must fetch a new token; and checks that a second workspace sees nothing.
"""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any

import pytest

from tests.support.cloud import KEY_A, PROVIDER_ISSUER
from tests.support.node import needs_npm
from tests.support.paths import NODE_DIR

pytestmark = [pytest.mark.node, needs_npm("assistant-cloud")]

TTL = 32  # the client reuses a token until 30 s before exp: a 32 s token is refetched after 2 s
SLEEP_MS = 2600


@pytest.fixture
def short_tokens(settings: Any) -> None:
    settings.CLOUD = {"SIGNING_KEYS": [KEY_A], "TOKEN_TTL_SECONDS": TTL, "ANONYMOUS_ENABLED": True}


def run_client(config: dict[str, Any]) -> dict[str, Any]:
    proc = subprocess.run(
        ["node", str(NODE_DIR / "cloud_client.mjs")],
        input=json.dumps(config),
        capture_output=True,
        text=True,
        cwd=NODE_DIR,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def assert_common_scenario(out: dict[str, Any]) -> None:
    ids = out["ids"]
    assert {t["id"] for t in out["active"]} == {ids["a"], ids["c"]}
    assert [t["id"] for t in out["archived"]] == [ids["b"]]
    assert out["archived"][0]["metadata"] == {"tag": "b"}
    assert next(t for t in out["active"] if t["id"] == ids["a"])["title"] == "Renamed thread"
    assert out["paging"][0] != out["paging"][1] and len(out["paging"][1]) == 1

    # aui/v0: newest first, parents carry the client's ids, the update landed, the branch is kept.
    aui = {m["id"]: m for m in out["aui"]}
    assert set(aui) == {"u1", "a1", "a1b", "u2"}
    assert aui["a1"]["parent_id"] == "u1" and aui["a1b"]["parent_id"] == "u1" and aui["u2"]["parent_id"] == "a1"
    assert [m["height"] for m in out["aui"]] == sorted((m["height"] for m in out["aui"]), reverse=True)
    assert aui["a1"]["text"] == "Start with an active starter."
    assert out["auiPersisted"] is True

    # ai-sdk/v6: loaded oldest first with ids and parents restored by the client's adapter.
    assert [(m["id"], m["parentId"], m["role"]) for m in out["aiSdk"]] == [
        ("ui-1", None, "user"),
        ("ui-2", "ui-1", "assistant"),
    ]
    assert out["aiSdk"][1]["parts"][1] == {"type": "text", "text": "Day one: Alfama."}

    assert out["feedback"]["type"] == "positive" and out["feedback"]["comment"] == "great"
    assert out["title"] == "Plan a weekend trip to Lisbon" == out["titleOnThread"]
    assert out["runReport"]["run_id"].startswith("run_")
    assert out["afterSleep"] == "Renamed thread"
    assert out["deletedGet"] == 404
    assert out["second"] == {"active": 0, "archived": 0, "get": 404, "code": "not_found", "messages": 404}


def test_token_mode_with_backend_issued_tokens(live_server_url: str, make_token: Any, short_tokens: None) -> None:
    from threads.models import RunReport

    out = run_client(
        {
            "baseUrl": live_server_url,
            "mode": "jwt",
            "sleepMs": SLEEP_MS,
            "first": {"sessionToken": make_token("user_node_a", org="org_node")},
            "second": {"sessionToken": make_token("user_node_b", org="org_node")},
        }
    )
    assert_common_scenario(out)
    assert {t["workspace_id"] for t in out["active"]} == {"org_node:user_node_a"}
    assert out["tokenCalls"]["after"] > out["tokenCalls"]["before"] >= 1
    report = RunReport.unscoped_for_operators.get(id=out["runReport"]["run_id"])
    assert (report.model_id, report.input_tokens, report.payload["output_text"]) == ("test-model", 12, "hi")


def test_api_key_mode(live_server_url: str, api_key: tuple[Any, str], short_tokens: None) -> None:
    _, raw = api_key
    out = run_client(
        {
            "baseUrl": live_server_url,
            "mode": "apikey",
            "first": {"apiKey": raw, "userId": "user_k1", "workspaceId": "proj_1:user_k1"},
            "second": {"apiKey": raw, "userId": "user_k2", "workspaceId": "proj_1:user_k2"},
        }
    )
    assert_common_scenario(out)
    assert {t["workspace_id"] for t in out["active"]} == {"proj_1:user_k1"}
    assert out["viaMintedToken"] == sorted([out["ids"]["a"], out["ids"]["c"]])
    assert {r["auth"] for r in out["requests"] if r["path"] != "/v1/auth/tokens"} >= {"api-key"}


def test_anonymous_mode_refreshes_and_is_claimed(live_server_url: str, make_token: Any, short_tokens: None) -> None:
    out = run_client(
        {
            "baseUrl": live_server_url,
            "mode": "anonymous",
            "sleepMs": SLEEP_MS,
            "first": {},
            "second": {},
            "claimer": {"sessionToken": make_token("user_claimer")},
        }
    )
    assert_common_scenario(out)
    paths = [r["path"] for r in out["requests"]]
    assert paths.count("/v1/auth/tokens/anonymous") >= 2  # the first browser, and the second one at the end
    assert "/v1/auth/tokens/refresh" in paths
    assert out["refreshRotated"] is True
    assert out["claim"] == {"moved": 2}  # a and c (b was deleted)
    assert out["claimedThreads"] == sorted([out["ids"]["a"], out["ids"]["c"]])
    assert out["reclaim"] == 401
    assert out["refreshAfterClaim"] == 401


def test_provider_jwt_mode_exchanges_for_workspace_tokens(
    live_server_url: str, provider_rule: Any, signing_key: Any, short_tokens: None
) -> None:
    def provider_token(sub: str) -> str:
        now = int(time.time())
        claims = {"iss": PROVIDER_ISSUER, "sub": sub, "aud": "assistant-ui", "iat": now, "nbf": now - 5}
        return signing_key.sign({**claims, "exp": now + 60, "azp": "http://app.example.test"})

    out = run_client(
        {
            "baseUrl": live_server_url,
            "mode": "provider",
            "sleepMs": SLEEP_MS,
            "first": {"providerTokens": [provider_token("user_p1"), provider_token("user_p1")]},
            "second": {"providerTokens": [provider_token("user_p2")]},
        }
    )
    assert_common_scenario(out)
    kinds = [r["auth"] for r in out["requests"] if r["path"].startswith("/v1/")]
    assert kinds[0] == f"provider:{PROVIDER_ISSUER}"
    assert kinds[1] == "workspace"  # the client switched to the token from the Authorization response header
    assert kinds.count("workspace") > kinds.count(f"provider:{PROVIDER_ISSUER}")
    assert out["tokenCalls"]["after"] > out["tokenCalls"]["before"]
