"""The real `ai` Chat (run with Node) drives whole sessions; what it ends with equals what the service saved.

Each test compares the client's final message list, field by field (ids, roles, parts with their states,
tool inputs and outputs, metadata), with the thread's current branch as the service stored it.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from chatauth.caller import Workspace
from tests.support.node import needs_npm
from tests.support.openai_server import Reply
from tests.support.paths import NODE_DIR
from threads import services

USER = "user_session"
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.node,
    needs_npm("ai"),
]
# A new thread is titled after its first reply: one model call in between, which only a non-streamed request takes.
TITLE = Reply(deltas=["A title"], stream=False)


def _session(url: str, token: str, chat_id: str, actions: list[dict[str, Any]], *, only_last: bool = False) -> Any:
    argv = ["node", str(NODE_DIR / "ai_chat_session.mjs"), f"{url}/api/chat", token, chat_id, json.dumps(actions)]
    result = subprocess.run(
        [*argv, "only-last" if only_last else "all"], capture_output=True, text=True, timeout=120, cwd=NODE_DIR
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["errors"] == []
    return out["messages"]


def _saved_branch(chat_id: str) -> list[dict[str, Any]]:
    """The thread's current branch (head, then parents), as UI messages."""
    thread = services.thread_get(workspace=Workspace(USER), thread_id=chat_id)
    message = services.message_head(thread=thread)
    branch = []
    while message is not None:
        ui = {"id": message.message_id, "role": message.role, "parts": message.content["parts"]}
        if message.content.get("metadata"):
            ui["metadata"] = message.content["metadata"]
        branch.append(ui)
        message = thread.messages.filter(pk=message.parent_id).first() if message.parent_id else None
    return branch[::-1]


def _client_view(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: m[k] for k in ("id", "role", "parts", "metadata") if k in m} for m in messages]


def test_two_turns_sending_only_the_last_message(chat_on, live_server_url, make_token):
    chat_on.script(Reply(deltas=["Four."]), TITLE, Reply(deltas=["Six."]))
    messages = _session(
        live_server_url, make_token(USER), "thread_s1", [{"send": "2+2?"}, {"send": "3+3?"}], only_last=True
    )
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    assert _client_view(messages) == _saved_branch("thread_s1")
    assert [m["content"] for m in chat_on.chat_requests[-1]["body"]["messages"][1:]] == ["2+2?", "Four.", "3+3?"]


def test_an_edit_is_a_new_branch_and_the_client_and_the_server_agree(chat_on, live_server_url, make_token):
    chat_on.script(Reply(deltas=["Berlin."]), TITLE, Reply(deltas=["Madrid."]))
    actions = [{"send": "Capital of Germany?"}, {"edit": 0, "text": "Capital of Spain?"}]
    messages = _session(live_server_url, make_token(USER), "thread_s2", actions)
    assert [p["text"] for m in messages for p in m["parts"] if p["type"] == "text"] == ["Capital of Spain?", "Madrid."]
    assert _client_view(messages) == _saved_branch("thread_s2")
    thread = services.thread_get(workspace=Workspace(USER), thread_id="thread_s2")
    assert thread.messages.filter(role="user").count() == 2  # the original is kept, as a sibling
    assert [m["content"] for m in chat_on.chat_requests[-1]["body"]["messages"][1:]] == ["Capital of Spain?"]


def test_regenerate_leaves_the_new_reply_current(chat_on, live_server_url, make_token):
    chat_on.script(Reply(deltas=["One."]), TITLE, Reply(deltas=["Two."]))
    messages = _session(live_server_url, make_token(USER), "thread_s3", [{"send": "A number?"}, {"regenerate": True}])
    assert messages[-1]["parts"][-1]["text"] == "Two."
    assert _client_view(messages) == _saved_branch("thread_s3")


def test_a_frontend_tool_round_trip_ends_with_one_assistant_message_on_both_sides(chat_on, live_server_url, make_token):
    chat_on.script(
        Reply(deltas=[], tool_calls=[("call_1", "get_weather", ['{"city": "Paris"}'])], finish_reason="tool_calls"),
        TITLE,
        Reply(deltas=["It is 21 degrees."]),
    )
    actions = [{"toolOutput": {"temp": 21}}, {"send": "Weather in Paris?"}]
    messages = _session(live_server_url, make_token(USER), "thread_s4", actions)
    assert [m["role"] for m in messages] == ["user", "assistant"]
    tool = next(p for p in messages[1]["parts"] if p["type"] == "tool-get_weather")
    assert tool["state"] == "output-available" and tool["output"] == {"temp": 21}
    assert messages[1]["parts"][-1]["text"] == "It is 21 degrees."
    assert _client_view(messages) == _saved_branch("thread_s4")
    sent = chat_on.chat_requests[-1]["body"]["messages"]
    assert sent[-1] == {"role": "tool", "tool_call_id": "call_1", "content": '{"temp": 21}'}
