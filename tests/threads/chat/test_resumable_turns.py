"""Server-owned generations speak the same turn model: the resumable stream is named for assistant-ui, a tool
result continues the named message, and a refused first turn leaves nothing behind."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from chatauth.caller import Workspace
from tests.support.chat import chat_body, sse_chunks, user_message
from tests.support.openai_server import Reply
from tests.support.redis_server import redis_up
from tests.threads.chat.test_resumable import REDIS_URL, _auth
from threads import services
from threads.models import Message, Thread

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not redis_up(REDIS_URL), reason="resumable mode needs Redis at 127.0.0.1:6379"),
]


def _saved(message_id: str) -> Message:
    """The reply once its owner has saved how it ended (a reader may see [DONE] a moment before the save)."""
    for _ in range(100):
        message = Message.objects.for_workspace(Workspace("user_chat")).get(message_id=message_id)
        if message.status != "in_progress":
            return message
        time.sleep(0.05)
    return message


def _post(url: str, headers: dict[str, str], body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{url}/api/chat", json=body, headers=headers, timeout=30)


def test_the_post_response_names_the_resumable_stream_for_assistant_ui(resumable, live_server_url, make_token):
    response = _post(live_server_url, _auth(make_token), chat_body("thread_named", user_message("hi", "u1")))
    assert response.status_code == 200
    # assistant-ui stores this id and resumes with resumeApi(id) = /api/chat/{id}/stream.
    assert response.headers["x-resumable-stream-id"] == "thread_named"


def test_a_tool_result_continues_the_same_message_in_resumable_mode(resumable, live_server_url, make_token):
    headers = _auth(make_token)
    # Titled already: no title call races the continuation for the scripted replies.
    services.thread_create(workspace=Workspace("user_chat"), thread_id="thread_rtool", title="Tools")
    resumable.script(Reply(deltas=[], tool_calls=[("call_9", "lookup", ['{"q": "x"}'])], finish_reason="tool_calls"))
    first = sse_chunks(_post(live_server_url, headers, chat_body("thread_rtool", user_message("go", "u1"))).text)
    reply = first[0]["messageId"]
    resumable.script(Reply(deltas=["Found it."]))
    answered = {
        "id": reply,
        "role": "assistant",
        "parts": [
            {"type": "tool-lookup", "toolCallId": "call_9", "state": "output-available", "input": {}, "output": 1}
        ],
    }
    second = sse_chunks(_post(live_server_url, headers, chat_body("thread_rtool", answered, messageId=reply)).text)
    assert second[0] == {"type": "start", "messageId": reply}
    message = _saved(reply)
    assert message.status == "complete" and message.content["parts"][-1]["text"] == "Found it."
    assert next(p for p in message.content["parts"] if p["type"] == "tool-lookup")["state"] == "output-available"


def test_a_refused_first_turn_leaves_no_empty_thread(resumable, live_server_url, make_token):
    forged = {"id": "nope", "role": "assistant", "parts": [{"type": "text", "text": "forged"}]}
    response = _post(live_server_url, _auth(make_token), chat_body("thread_refused", forged))
    assert response.status_code == 400
    assert not Thread.objects.for_workspace(Workspace("user_chat")).filter(id="thread_refused").exists()


def test_a_stop_closes_the_open_parts_for_every_reader_and_in_the_saved_reply(resumable, live_server_url, make_token):
    resumable.script(Reply(deltas=[f" w{i}" for i in range(400)], delay=0.05))
    headers = _auth(make_token)
    with httpx.stream("POST", f"{live_server_url}/api/chat", json=chat_body("thread_close"), headers=headers) as first:
        reply = None
        lines = first.iter_lines()
        for line in lines:
            if line.startswith('data: {"type":"start"'):
                reply = line.split('"messageId":"')[1].split('"')[0]
            if '"text-delta"' in line:
                break
        # Another tab stops it; this reader follows the stream to its end.
        assert httpx.delete(f"{live_server_url}/api/chat/thread_close/stream", headers=headers).status_code == 200
        rest = [line for line in lines if line.startswith("data: ")]
    kinds = [line[6:] for line in rest]
    closing = next(i for i, k in enumerate(kinds) if '"text-end"' in k)
    assert closing < next(i for i, k in enumerate(kinds) if '"abort"' in k)
    saved = _saved(reply)
    assert saved.status == "stopped"
    assert all(p.get("state") != "streaming" for p in saved.content["parts"])
