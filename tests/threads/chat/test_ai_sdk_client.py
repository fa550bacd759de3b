"""The real `ai` npm package (DefaultChatTransport + readUIMessageStream, run with Node) reads our stream."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from tests.support.chat import chat_body
from tests.support.node import needs_npm
from tests.support.openai_server import Reply
from tests.support.paths import NODE_DIR

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.node,
    needs_npm("ai"),
]


def _run(url: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
    result = subprocess.run(
        ["node", str(NODE_DIR / "ai_chat.mjs"), f"{url}/api/chat", token, json.dumps(body)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=NODE_DIR,
    )
    return json.loads(result.stdout)


def test_ai_sdk_assembles_the_streamed_text_message(chat_on, live_server_url, make_token):
    chat_on.script(Reply(reasoning=["Thinking"], deltas=["Hello", ", ", "world"]))
    out = _run(live_server_url, make_token("user_node"), chat_body("thread_node"))
    message = out["message"]
    assert out["errors"] == []
    assert message["role"] == "assistant"
    assert message["id"].startswith("msg_")
    assert [p["type"] for p in message["parts"]] == ["step-start", "reasoning", "text"]
    assert message["parts"][1]["text"] == "Thinking"
    assert message["parts"][2] == {"type": "text", "text": "Hello, world", "state": "done"}


def test_ai_sdk_assembles_a_frontend_tool_call(chat_on, live_server_url, make_token):
    chat_on.script(Reply(deltas=[], tool_calls=[("call_9", "lookup", ['{"q":', '"x"}'])], finish_reason="tool_calls"))
    tools = {"lookup": {"description": "Look up", "parameters": {"type": "object", "properties": {}}}}
    out = _run(live_server_url, make_token("user_node"), chat_body("thread_node_tools", tools=tools))
    (tool_part,) = [p for p in out["message"]["parts"] if p["type"] == "tool-lookup"]
    assert tool_part["toolCallId"] == "call_9"
    assert tool_part["state"] == "input-available"
    assert tool_part["input"] == {"q": "x"}


def test_ai_sdk_sees_the_upstream_failure_as_an_error(chat_on, live_server_url, make_token):
    chat_on.script(Reply(status=500))
    out = _run(live_server_url, make_token("user_node"), chat_body("thread_node_500"))
    assert out["errors"] == ["Error: The model provider returned an error (HTTP 500)."]
    assert out["message"]["parts"] == []


def test_saved_assistant_message_equals_what_the_client_assembled(chat_on, live_server_url, make_token):
    from chatauth.caller import Workspace
    from threads import services

    out = _run(live_server_url, make_token("user_node"), chat_body("thread_node_saved"))
    thread = services.thread_get(workspace=Workspace("user_node"), thread_id="thread_node_saved")
    saved = thread.messages.get(role="assistant")
    assert saved.message_id == out["message"]["id"]
    assert saved.content["parts"] == out["message"]["parts"]
