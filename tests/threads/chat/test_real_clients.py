"""The everyday actions of a chat, driven by the real `ai` Chat (6.x and 7.x) under Node, in both ownership modes.

Each scenario ends by comparing the client's final UI messages with the thread's current branch as
`GET /api/threads/{id}/messages` returns it, field by field: ids, roles, part types and states, text, reasoning,
tool inputs and outputs, metadata. Connection-owned mode is `chat_on`; resumable mode is the `resumable`
fixture (server-owned generations in Redis).
"""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

import httpx
import pytest

from chatauth.caller import Workspace
from tests.support.isolation import REDIS_URL
from tests.support.node import needs_npm
from tests.support.openai_server import Reply
from tests.support.paths import NODE_DIR
from tests.support.redis_server import redis_up
from threads import services

USER = "user_clients"
SLOW = Reply(deltas=[f" w{i}" for i in range(300)], delay=0.03)
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.node,
    needs_npm("ai7"),
]


@pytest.fixture(params=["ai", "ai7"])
def package(request: pytest.FixtureRequest) -> str:
    """The `ai` package the client runs: 6.x (`ai`) or 7.x (`ai7`, an alias in tests/node/package.json)."""
    return request.param


@pytest.fixture(params=["connection", "resumable"])
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def upstream(mode: str, request: pytest.FixtureRequest) -> Any:
    """The loopback model, with the service in the given ownership mode."""
    if mode == "resumable":
        if not redis_up(REDIS_URL):
            pytest.skip(f"resumable mode needs Redis ({REDIS_URL})")
        return request.getfixturevalue("resumable")
    return request.getfixturevalue("chat_on")


@pytest.fixture
def session(package: str, upstream: Any, live_server_url: str, make_token: Any) -> Any:
    """`session(chat_id, actions)`: run the actions with the real Chat; the client's final state."""

    def run(chat_id: str, actions: list[dict[str, Any]], *, only_last: bool = False) -> dict[str, Any]:
        # Titled already: no title call takes a scripted reply meant for the conversation.
        services.thread_create(workspace=Workspace(USER), thread_id=chat_id, title="Scripted")
        argv = ["node", str(NODE_DIR / "ai_chat_session.mjs"), f"{live_server_url}/api/chat", make_token(USER)]
        argv += [chat_id, json.dumps(actions), "only-last" if only_last else "all"]
        env = {**os.environ, "AI_PACKAGE": package}
        result = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=NODE_DIR, env=env)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    return run


@pytest.fixture
def saved(live_server_url: str, make_token: Any) -> Any:
    """`saved(chat_id)`: the thread's current branch from `GET /api/threads/{id}/messages`, as UI messages with
    their stored status (once no reply of it is in progress)."""

    def read(chat_id: str) -> list[dict[str, Any]]:
        headers = {"Authorization": f"Bearer {make_token(USER)}"}
        for _ in range(200):
            page = httpx.get(f"{live_server_url}/api/threads/{chat_id}/messages", headers=headers, timeout=30).json()
            if all(row["status"] != "in_progress" for row in page["messages"]):
                break
        assert page["next_cursor"] is None
        rows = {row["id"]: row for row in page["messages"]}
        branch, row = [], rows.get(page["head_id"])
        while row is not None:
            branch.append({"id": row["id"], **row["content"], "status": row["status"]})
            row = rows.get(row["parent_id"])
        return branch[::-1]

    return read


def _view(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: m[k] for k in ("id", "role", "parts", "metadata") if k in m} for m in messages]


def _texts(message: dict[str, Any], kind: str = "text") -> list[str]:
    return [p["text"] for p in message["parts"] if p["type"] == kind]


def test_a_text_reply_is_saved_as_the_client_assembled_it(session, saved, upstream):
    upstream.script(Reply(deltas=["Hello", " there."]))
    out = session("thread_rc_text", [{"send": "Hi"}])
    assert out["errors"] == []
    stored = saved("thread_rc_text")
    assert _view(out["messages"]) == _view(stored)
    assert _texts(stored[-1]) == ["Hello there."] and stored[-1]["status"] == "complete"
    assert stored[-1]["metadata"]["model"] == "test-model" and stored[-1]["metadata"]["finishReason"] == "stop"


def test_reasoning_is_saved_as_the_client_assembled_it(session, saved, upstream):
    upstream.script(Reply(reasoning=["Think", "ing."], deltas=["Answer."]))
    out = session("thread_rc_reason", [{"send": "Why?"}])
    assert out["errors"] == []
    stored = saved("thread_rc_reason")
    assert _view(out["messages"]) == _view(stored)
    assert _texts(stored[-1], "reasoning") == ["Thinking."] and _texts(stored[-1]) == ["Answer."]


def test_a_frontend_tool_round_trip_continues_one_message_on_both_sides(session, saved, upstream):
    upstream.script(
        Reply(deltas=[], tool_calls=[("call_1", "get_weather", ['{"city": "Paris"}'])], finish_reason="tool_calls"),
        Reply(deltas=["It is 21 degrees."], stream=True),
    )
    out = session("thread_rc_tool", [{"toolOutput": {"temp": 21}}, {"send": "Weather in Paris?"}])
    assert out["errors"] == []
    stored = saved("thread_rc_tool")
    assert _view(out["messages"]) == _view(stored)
    assert [m["role"] for m in stored] == ["user", "assistant"]
    tool = next(p for p in stored[1]["parts"] if p["type"] == "tool-get_weather")
    assert tool["state"] == "output-available" and tool["output"] == {"temp": 21} and tool["input"] == {"city": "Paris"}
    assert upstream.chat_requests[-1]["body"]["messages"][-1]["role"] == "tool"


def test_an_edit_is_a_new_branch_that_both_sides_show(session, saved, upstream):
    upstream.script(Reply(deltas=["Berlin."]), Reply(deltas=["Madrid."], stream=True))
    out = session("thread_rc_edit", [{"send": "Capital of Germany?"}, {"edit": 0, "text": "Capital of Spain?"}])
    assert out["errors"] == []
    stored = saved("thread_rc_edit")
    assert _view(out["messages"]) == _view(stored)
    assert [t for m in stored for t in _texts(m)] == ["Capital of Spain?", "Madrid."]
    assert [m["content"] for m in upstream.chat_requests[-1]["body"]["messages"][1:]] == ["Capital of Spain?"]


def test_regenerate_adds_a_sibling_reply_that_both_sides_show(session, saved, upstream):
    upstream.script(Reply(deltas=["One."]), Reply(deltas=["Two."], stream=True))
    out = session("thread_rc_regen", [{"send": "A number?"}, {"regenerate": True}])
    stored = saved("thread_rc_regen")
    assert _view(out["messages"]) == _view(stored)
    assert _texts(stored[-1]) == ["Two."]


def test_stop_saves_what_was_streamed_and_frees_the_thread(session, saved, upstream):
    upstream.script(SLOW, Reply(deltas=["Next."], stream=True))
    out = session("thread_rc_stop", [{"send": "Count", "stopAfter": 6}, {"send": "Again"}])
    assert out["errors"] == []
    stored = saved("thread_rc_stop")
    assert _view(out["messages"]) == _view(stored)
    stopped = stored[1]
    assert stopped["status"] == "stopped" and _texts(stopped)[0].startswith(" w0 w1")
    assert len(_texts(stopped)[0]) < len("".join(SLOW.deltas))
    assert all(p.get("state") != "streaming" for p in stopped["parts"])
    assert upstream.client_went_away.wait(10)  # the model call was cancelled
    assert _texts(stored[-1]) == ["Next."]


def test_a_reload_after_a_dropped_connection_shows_the_saved_reply(session, saved, upstream, mode):
    upstream.script(Reply(deltas=[f" w{i}" for i in range(60)], delay=0.03))
    out = session("thread_rc_drop", [{"send": "Count", "dropAfter": 6}, {"reload": True}])
    stored = saved("thread_rc_drop")
    assert _view(out["messages"]) == _view(stored)
    if mode == "resumable":  # the server owned it: the reply went on, and the resume replayed all of it
        assert stored[-1]["status"] == "complete" and _texts(stored[-1]) == ["".join(f" w{i}" for i in range(60))]
    else:
        # The connection owned it. Node's fetch often keeps reading an aborted response to reuse its connection,
        # so the server may never see a disconnect: the reply then runs to its end (why a stop sends DELETE).
        assert stored[-1]["status"] in ("incomplete", "complete")


@pytest.mark.parametrize(
    "failure", [Reply(status=500), Reply(deltas=["Some", " text", " more"], error_after=2)], ids=["http", "stream"]
)
def test_an_upstream_failure_is_saved_as_the_client_saw_it(session, saved, upstream, failure):
    upstream.script(failure)
    out = session("thread_rc_fail", [{"send": "Hi"}])
    assert out["errors"]  # the client reports it
    stored = saved("thread_rc_fail")
    assert _view(out["messages"]) == _view(stored)
    assert stored[-1]["status"] == "incomplete"
