# ruff: noqa: F811  (the fixtures imported from test_real_clients are used as arguments)
"""The same everyday actions through assistant-ui's runtime (`@assistant-ui/react` + `@assistant-ui/react-ai-sdk`),
run headless under Node (react-dom into a jsdom document), in both ownership modes.

The driver (tests/node/aui_session.mjs) wires the runtime as the browser app does: a remote thread list on
/api/threads, the history adapter that loads the thread and appends each finished message (so a stop is followed by
the append of the partial reply), and AssistantChatTransport with assistant-ui's own `resumable` option. Each
scenario compares the AI SDK chat's final UI messages with `GET /api/threads/{id}/messages`, field by field.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from tests.support.node import needs_npm
from tests.support.openai_server import Reply
from tests.support.paths import NODE_DIR
from tests.threads.chat.test_real_clients import SLOW, USER, _texts, _view, mode, saved, upstream  # noqa: F401

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.node,
    needs_npm("@assistant-ui/react-ai-sdk"),
]


@pytest.fixture
def aui(upstream: Any, live_server_url: str, make_token: Any) -> Any:
    """`aui(actions)`: run the actions with assistant-ui's runtime; the client's final state (with its thread id)."""

    def run(actions: list[dict[str, Any]]) -> dict[str, Any]:
        argv = ["node", str(NODE_DIR / "aui_session.mjs"), live_server_url, make_token(USER), json.dumps(actions)]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=NODE_DIR)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    return run


def test_a_text_reply_is_saved_as_assistant_ui_assembled_it(aui, saved, upstream):
    upstream.script(Reply(deltas=["Hello", " there."]))
    out = aui([{"send": "Hi"}])
    assert out["errors"] == []
    stored = saved(out["threadId"])
    assert _view(out["messages"]) == _view(stored)
    assert _texts(stored[-1]) == ["Hello there."] and stored[-1]["status"] == "complete"


def test_reasoning_is_saved_as_assistant_ui_assembled_it(aui, saved, upstream):
    upstream.script(Reply(reasoning=["Think", "ing."], deltas=["Answer."]))
    out = aui([{"send": "Why?"}])
    stored = saved(out["threadId"])
    assert _view(out["messages"]) == _view(stored)
    assert _texts(stored[-1], "reasoning") == ["Thinking."]


def test_a_frontend_tool_round_trip_continues_one_message_in_assistant_ui(aui, saved, upstream):
    upstream.script(
        Reply(deltas=[], tool_calls=[("call_1", "get_weather", ['{"city": "Paris"}'])], finish_reason="tool_calls"),
        Reply(deltas=["It is 21 degrees."], stream=True),
    )
    out = aui([{"toolOutput": {"temp": 21}}, {"send": "Weather in Paris?"}])
    assert out["errors"] == []
    stored = saved(out["threadId"])
    assert _view(out["messages"]) == _view(stored)
    tool = next(p for p in stored[1]["parts"] if p["type"] == "tool-get_weather")
    assert tool["state"] == "output-available" and tool["output"] == {"temp": 21}
    assert _texts(stored[1]) == ["It is 21 degrees."]


def test_an_edit_in_assistant_ui_is_a_new_branch_on_both_sides(aui, saved, upstream):
    upstream.script(Reply(deltas=["Berlin."]), Reply(deltas=["Madrid."], stream=True))
    out = aui([{"send": "Capital of Germany?"}, {"edit": 0, "text": "Capital of Spain?"}])
    stored = saved(out["threadId"])
    assert _view(out["messages"]) == _view(stored)
    assert [t for m in stored for t in _texts(m)] == ["Capital of Spain?", "Madrid."]


def test_a_reload_in_assistant_ui_adds_a_sibling_reply_on_both_sides(aui, saved, upstream):
    upstream.script(Reply(deltas=["One."]), Reply(deltas=["Two."], stream=True))
    out = aui([{"send": "A number?"}, {"regenerate": True}])
    stored = saved(out["threadId"])
    assert _view(out["messages"]) == _view(stored)
    assert _texts(stored[-1]) == ["Two."]


@pytest.mark.parametrize("delete", [False, True], ids=["cancel", "cancel-and-delete"])
def test_the_stop_button_then_the_history_append_saves_what_was_streamed(aui, saved, upstream, delete):
    upstream.script(SLOW, Reply(deltas=["Next."], stream=True))
    out = aui([{"send": "Count", "stopAfter": 6, "delete": delete}, {"send": "Again"}])
    stored = saved(out["threadId"])
    stopped = stored[1]
    assert stopped["status"] == "stopped" and _texts(stopped)[0].startswith(" w0 w1")
    assert len(_texts(stopped)[0]) < len("".join(SLOW.deltas))  # the model call was stopped, not run to its end
    assert {"id": stopped["id"], "role": "assistant"} in out["appended"]  # the history adapter saved it
    assert _texts(stored[-1]) == ["Next."]
    assert _view(out["messages"]) == _view(stored)


@pytest.mark.parametrize("mode", ["resumable"], indirect=True)  # without it there is nothing to resume
def test_assistant_ui_resumes_a_reply_after_a_dropped_connection(aui, saved, upstream, mode):
    upstream.script(Reply(deltas=[f" w{i}" for i in range(60)], delay=0.03))
    out = aui([{"send": "Count", "dropAfter": 6}, {"reload": True}])
    stored = saved(out["threadId"])
    assert out["resumed"] == [out["threadId"]]  # x-resumable-stream-id named it; GET /api/chat/{id}/stream
    assert _view(out["messages"]) == _view(stored)
    assert stored[-1]["status"] == "complete" and _texts(stored[-1]) == ["".join(f" w{i}" for i in range(60))]


def test_an_upstream_failure_is_saved_as_assistant_ui_saw_it(aui, saved, upstream):
    upstream.script(Reply(deltas=["Some", " text", " more"], error_after=2))
    out = aui([{"send": "Hi"}])
    assert out["errors"]
    stored = saved(out["threadId"])
    assert _view(out["messages"]) == _view(stored)
    assert stored[-1]["status"] == "incomplete"
