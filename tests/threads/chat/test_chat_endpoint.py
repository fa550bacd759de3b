"""POST /api/chat over real HTTP through uvicorn, against a real OpenAI-compatible server on loopback."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx
import pytest

from chatauth.caller import Workspace
from tests.support.chat import chat_body, finish_chunk, sse_chunks, user_message
from tests.support.openai_server import Reply
from threads import services
from threads.models import Message, Thread

pytestmark = pytest.mark.django_db(transaction=True)


def _types(chunks: list[Any]) -> list[str]:
    return [c if isinstance(c, str) else c["type"] for c in chunks]


def _deltas(chunks: list[Any], kind: str = "text-delta") -> str:
    return "".join(c["delta"] for c in chunks if isinstance(c, dict) and c["type"] == kind)


def _assistant(thread_id: str, workspace: Workspace) -> Message:
    thread = services.thread_get(workspace=workspace, thread_id=thread_id)
    return thread.messages.get(role="assistant")


def test_signed_out_is_401_json_and_the_model_is_never_called(chat_on, post_chat):
    response = post_chat(chat_body(), user=None)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert chat_on.requests == []


def test_refused_token_is_401_with_its_reason_and_the_model_is_never_called(chat_on, post_chat):
    response = post_chat(chat_body(), user=None, headers={"Authorization": "Bearer a.b.c"})
    assert response.status_code == 401
    assert response.json()["error"] == "token-invalid"
    assert chat_on.requests == []


def test_stream_has_the_ui_message_stream_headers(chat_on, post_chat):
    response = post_chat(chat_body())
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-vercel-ai-ui-message-stream"] == "v1"
    assert response.headers["x-accel-buffering"] == "no"
    assert "content-encoding" not in response.headers


def test_stream_chunks_come_in_protocol_order(chat_on, post_chat):
    chunks = sse_chunks(post_chat(chat_body()).text)
    assert _types(chunks) == [
        "start",
        "start-step",
        "text-start",
        "text-delta",
        "text-delta",
        "text-delta",
        "text-end",
        "finish-step",
        "finish",
        "[DONE]",
    ]
    assert _deltas(chunks) == "Hello from upstream"
    assert chunks[8] == {
        "type": "finish",
        "finishReason": "stop",
        "messageMetadata": {"model": "test-model", "finishReason": "stop"},
    }
    text_ids = {c["id"] for c in chunks[:-1] if c["type"].startswith("text-")}
    assert len(text_ids) == 1


def test_chunks_carry_only_documented_keys(chat_on, post_chat):
    allowed = {
        "start": {"type", "messageId"},
        "start-step": {"type"},
        "finish-step": {"type"},
        "text-start": {"type", "id"},
        "text-delta": {"type", "id", "delta"},
        "text-end": {"type", "id"},
        "finish": {"type", "finishReason", "messageMetadata"},
    }
    for chunk in sse_chunks(post_chat(chat_body()).text)[:-1]:
        assert set(chunk) <= allowed[chunk["type"]], chunk


def test_browser_supplied_provider_settings_are_ignored(chat_on, post_chat):
    body = chat_body(config={"apiKey": "sk-from-browser", "baseUrl": "http://evil.example", "modelName": "x"})
    body["callSettings"] = {"headers": {"X-Evil": "1"}, "temperature": 0.3}
    assert post_chat(body).status_code == 200
    (request,) = chat_on.chat_requests
    assert request["headers"]["authorization"] == "Bearer sk-test-server-side"
    assert request["body"]["model"] == "test-model"
    assert request["body"]["temperature"] == 0.3
    assert "x-evil" not in request["headers"]


def test_conversation_and_system_prompt_reach_the_model(chat_on, post_chat):
    history = [
        user_message("first", "m1"),
        {"id": "m2", "role": "assistant", "parts": [{"type": "text", "text": "answer"}]},
        user_message("second", "m3"),
    ]
    post_chat(chat_body("thread_hist", *history, system="Be brief."))
    messages = chat_on.chat_requests[0]["body"]["messages"]
    assert messages[0]["role"] == "system" and messages[0]["content"].endswith("Be brief.")
    assert [(m["role"], m["content"]) for m in messages[1:]] == [
        ("user", "first"),
        ("assistant", "answer"),
        ("user", "second"),
    ]


def test_user_and_assistant_messages_are_saved_in_the_thread(chat_on, post_chat):
    chunks = sse_chunks(post_chat(chat_body("thread_saved")).text)
    workspace = Workspace("user_chat")
    thread = services.thread_get(workspace=workspace, thread_id="thread_saved")
    user, assistant = thread.messages.order_by("height")
    assert (user.message_id, user.format, user.content["parts"][0]["text"]) == ("msg_user_1", "ai-sdk/v6", "Hi there")
    assert assistant.message_id == chunks[0]["messageId"]
    assert assistant.parent_id == user.pk and assistant.status == "complete"
    assert next(p for p in assistant.content["parts"] if p["type"] == "text")["text"] == "Hello from upstream"


def test_resending_the_same_user_message_does_not_duplicate_it(chat_on, post_chat):
    post_chat(chat_body("thread_idem"))
    post_chat(chat_body("thread_idem"))
    thread = services.thread_get(workspace=Workspace("user_chat"), thread_id="thread_idem")
    assert thread.messages.filter(role="user").count() == 1
    assert thread.messages.filter(role="assistant").count() == 2  # a regeneration branches


def test_new_thread_gets_a_generated_title_after_the_reply(chat_on, post_chat):
    chat_on.script(Reply(), Reply(deltas=["Greeting", " exchange"]))
    post_chat(chat_body("thread_titled"))
    # The title is asked for once the reply is complete, in the background (the response does not wait for it).
    thread = Thread.objects.for_workspace(Workspace("user_chat"))
    deadline = time.monotonic() + 20
    while thread.get(id="thread_titled").title is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert thread.get(id="thread_titled").title == "Greeting exchange"
    assert [r["body"]["stream"] for r in chat_on.requests] == [True, False]  # the reply first, then the title


def test_a_streamed_replys_connection_to_the_model_is_kept_for_later_calls(chat_on, post_chat):
    """Read to its end, a streamed completion's connection goes back to the pool: the next calls need no new TCP
    (with a real provider, TLS) handshake. Closed right after `[DONE]`, every turn opened a connection."""
    post_chat(chat_body("thread_reuse_1"))
    post_chat(chat_body("thread_reuse_2", user_message(message_id="msg_reuse_2")))
    first_stream = chat_on.chat_requests[0]
    later = chat_on.requests[chat_on.requests.index(first_stream) + 1 :]
    assert later and first_stream["peer"] in {request["peer"] for request in later}


def test_with_model_titles_off_a_new_thread_is_titled_with_its_first_reply_without_a_model_call(
    settings, chat_on, post_chat
):
    """The heuristic title is saved in the reply's own trip to the database, before `[DONE]`: no wait for it."""
    settings.CHAT = {**settings.CHAT, "MODEL_TITLES": False}
    post_chat(chat_body("thread_plain_title", user_message("Plan a trip to Lisbon in May")))
    thread = Thread.objects.for_workspace(Workspace("user_chat")).get(id="thread_plain_title")
    assert thread.title == "Plan a trip to Lisbon in May"
    assert [r["body"]["stream"] for r in chat_on.requests] == [True]  # the reply's call only


def test_with_model_titles_off_a_failed_first_reply_leaves_the_thread_untitled(settings, chat_on, post_chat):
    settings.CHAT = {**settings.CHAT, "MODEL_TITLES": False}
    chat_on.script(Reply(status=500))
    post_chat(chat_body("thread_plain_failed", user_message("Plan a trip to Lisbon in May")))
    assert Thread.objects.for_workspace(Workspace("user_chat")).get(id="thread_plain_failed").title is None


def test_another_workspaces_thread_is_404_and_nothing_of_it_reaches_the_model(chat_on, post_chat):
    owner = services.thread_create(workspace=Workspace("user_owner"), thread_id="thread_private", title="Secret plans")
    services.message_append(
        thread=owner, format="aui/v0", content={"role": "user", "content": [{"type": "text", "text": "the secret"}]}
    )
    for user, org in [("user_chat", None), ("user_owner", "org_1"), ("user_chat", "org_1")]:
        response = post_chat(chat_body("thread_private", user_message("my own words")), user=user, org=org)
        assert response.status_code == 404
        assert response.json() == {"error": "not_found", "message": "Thread not found."}
    # A new chat's request leaves once its caller is admitted (threads.chat.early): it may have reached the model,
    # with the caller's own message and nothing else.
    for sent in chat_on.chat_requests:
        assert [m for m in sent["body"]["messages"] if m["role"] != "system"] == [
            {"role": "user", "content": "my own words"}
        ]
    assert "the secret" not in json.dumps(chat_on.requests) and "Secret plans" not in json.dumps(chat_on.requests)
    assert Message.objects.for_workspace(Workspace("user_owner")).count() == 1


def test_a_404s_model_call_is_cancelled_unread(chat_on, post_chat):
    services.thread_create(workspace=Workspace("user_owner"), thread_id="thread_private")
    chat_on.script(Reply(deltas=["never"] * 50, delay=0.05))
    response = post_chat(chat_body("thread_private", user_message("mine")), user="user_chat")
    assert response.status_code == 404
    if chat_on.chat_requests:  # it was sent before the thread was found to be someone else's: it was ended
        assert chat_on.client_went_away.wait(5)
    assert "never" not in response.text


def test_frontend_tools_are_offered_and_their_calls_streamed(chat_on, post_chat):
    chat_on.script(
        Reply(deltas=[], tool_calls=[("call_1", "get_weather", ['{"city":', ' "Paris"}'])], finish_reason="tool_calls")
    )
    tools = {
        "get_weather": {
            "description": "Weather for a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        }
    }
    chunks = sse_chunks(post_chat(chat_body(tools=tools)).text)
    offered = chat_on.chat_requests[0]["body"]["tools"]
    assert offered == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather for a city",
                "parameters": tools["get_weather"]["parameters"],
            },
        }
    ]
    assert {"type": "tool-input-start", "toolCallId": "call_1", "toolName": "get_weather"} in chunks
    assert {
        "type": "tool-input-available",
        "toolCallId": "call_1",
        "toolName": "get_weather",
        "input": {"city": "Paris"},
    } in chunks
    assert finish_chunk("tool-calls") in chunks


def test_tool_results_from_the_client_are_sent_back_to_the_model(chat_on, post_chat):
    history = [
        user_message("weather?", "m1"),
        {
            "id": "m2",
            "role": "assistant",
            "parts": [
                {
                    "type": "tool-get_weather",
                    "toolCallId": "call_1",
                    "state": "output-available",
                    "input": {"city": "Paris"},
                    "output": {"temp": 21},
                }
            ],
        },
        user_message("thanks", "m3"),
    ]
    post_chat(chat_body("thread_tools", *history))
    messages = chat_on.chat_requests[0]["body"]["messages"]
    assert messages[2]["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    assert messages[3] == {"role": "tool", "tool_call_id": "call_1", "content": '{"temp": 21}'}


def test_reasoning_is_streamed_as_reasoning_chunks(chat_on, post_chat):
    chat_on.script(Reply(reasoning=["Let me", " think"], deltas=["Done"]))
    chunks = sse_chunks(post_chat(chat_body()).text)
    types = _types(chunks)
    assert types.index("reasoning-start") < types.index("reasoning-end") < types.index("text-start")
    assert _deltas(chunks, "reasoning-delta") == "Let me think"


def test_upstream_500_becomes_an_error_chunk_and_an_incomplete_message(chat_on, post_chat):
    chat_on.script(Reply(status=500))
    response = post_chat(chat_body("thread_500"))
    chunks = sse_chunks(response.text)
    assert response.status_code == 200
    assert {"type": "error", "errorText": "The model provider returned an error (HTTP 500)."} in chunks
    assert chunks[-2:] == [finish_chunk("error"), "[DONE]"]
    assert _assistant("thread_500", Workspace("user_chat")).status == "incomplete"


def test_upstream_timeout_becomes_an_error_chunk(settings, chat_on, post_chat):
    settings.CHAT = {**settings.CHAT, "READ_TIMEOUT_SECONDS": 0.5}
    chat_on.script(Reply(hang_seconds=2))
    chunks = sse_chunks(post_chat(chat_body("thread_slow")).text)
    assert {"type": "error", "errorText": "The model provider timed out."} in chunks
    assert chunks[-1] == "[DONE]"


def test_mid_stream_drop_keeps_what_was_streamed_as_incomplete(chat_on, post_chat):
    chat_on.script(Reply(deltas=["Partial", " answer", " lost"], drop_after=3))
    chunks = sse_chunks(post_chat(chat_body("thread_drop")).text)
    assert {"type": "error", "errorText": "The connection to the model provider failed."} in chunks
    assert chunks[-1] == "[DONE]"
    assistant = _assistant("thread_drop", Workspace("user_chat"))
    assert assistant.status == "incomplete"
    assert assistant.content["parts"][1]["text"] == "Partial answer"


def test_client_disconnect_cancels_the_upstream_request_and_saves_the_partial_reply(
    chat_on, live_server_url, make_token
):
    chat_on.script(Reply(deltas=[f" w{i}" for i in range(200)], delay=0.05))
    headers = {"Authorization": f"Bearer {make_token('user_chat')}"}
    with httpx.stream(
        "POST", f"{live_server_url}/api/chat", json=chat_body("thread_gone"), headers=headers, timeout=30
    ) as response:
        seen = 0
        for line in response.iter_lines():
            seen += line.startswith('data: {"type":"text-delta"')
            if seen >= 3:
                break
    assert chat_on.client_went_away.wait(10)
    assert chat_on.finished_streams == 0
    deadline = time.monotonic() + 10
    while _assistant("thread_gone", Workspace("user_chat")).status == "in_progress" and time.monotonic() < deadline:
        time.sleep(0.05)
    assistant = _assistant("thread_gone", Workspace("user_chat"))
    assert assistant.status == "incomplete"
    assert assistant.content["parts"][1]["text"].startswith(" w0 w1 w2")


def test_request_rate_limit_is_429_with_retry_after(settings, chat_on, post_chat):
    settings.CHAT = {**settings.CHAT, "RATE_LIMIT_REQUESTS": 2, "RATE_LIMIT_WINDOW_SECONDS": 60}
    assert [post_chat(chat_body(f"thread_rate_{i}")).status_code for i in range(2)] == [200, 200]
    limited = post_chat(chat_body("thread_rate_3"))
    assert limited.status_code == 429
    assert limited.json()["error"] == "rate_limited"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert len(chat_on.chat_requests) == 2
    assert post_chat(chat_body("thread_rate_x"), user="user_other").status_code == 200


def test_concurrent_stream_limit_is_429_while_a_stream_is_open(
    settings, chat_on, live_server_url, make_token, post_chat
):
    settings.CHAT = {**settings.CHAT, "MAX_CONCURRENT_STREAMS": 1}
    chat_on.script(Reply(deltas=[" x"] * 40, delay=0.05))
    headers = {"Authorization": f"Bearer {make_token('user_chat')}"}
    opened = threading.Event()

    def slow() -> None:
        with httpx.stream(
            "POST", f"{live_server_url}/api/chat", json=chat_body("thread_c1"), headers=headers, timeout=30
        ) as response:
            for _ in response.iter_lines():
                opened.set()

    worker = threading.Thread(target=slow)
    worker.start()
    assert opened.wait(10)
    second = post_chat(chat_body("thread_c2"))
    worker.join(30)
    assert second.status_code == 429
    assert second.headers["Retry-After"]
    assert post_chat(chat_body("thread_c3")).status_code == 200  # the slot came back


def test_keepalive_comments_fill_long_silences(settings, chat_on, post_chat):
    settings.CHAT = {**settings.CHAT, "KEEPALIVE_SECONDS": 0.2}
    chat_on.script(Reply(hang_seconds=1.0))
    text = post_chat(chat_body()).text
    assert ": keep-alive\n\n" in text
    assert sse_chunks(text)[-1] == "[DONE]"


@pytest.mark.parametrize(
    "body, fragment",
    [
        (b"not json", "not valid JSON"),
        (b"[]", "JSON object"),
        (json.dumps({"messages": [user_message()]}).encode(), "id"),
        (json.dumps({"id": "t", "messages": "hi"}).encode(), "messages"),
        (json.dumps({"id": "t", "messages": []}).encode(), "messages"),
        (json.dumps({"id": "t", "messages": [{"id": "m", "role": "wizard", "parts": []}]}).encode(), "role"),
        (json.dumps({"id": "t", "messages": [{"id": "m", "role": "user", "parts": "x"}]}).encode(), "parts"),
        (json.dumps({"id": "t", "messages": [{"id": "m", "role": "assistant", "parts": []}]}).encode(), "user message"),
        (json.dumps({"id": "t", "messages": [user_message()], "trigger": "explode"}).encode(), "trigger"),
        (json.dumps({"id": "t", "messages": [user_message()], "tools": {"bad name!": {}}}).encode(), "tool name"),
        (
            json.dumps({"id": "t", "messages": [user_message()], "callSettings": {"temperature": 9}}).encode(),
            "temperature",
        ),
        (json.dumps({"id": "../etc", "messages": [user_message()]}).encode(), "id"),
        (json.dumps({"id": "t", "messages": [user_message("x" * (1024 * 1024))]}).encode(), "larger than"),
    ],
)
def test_bad_bodies_are_400_json_and_never_reach_the_model(chat_on, post_chat, body, fragment):
    response = post_chat(body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert fragment in response.json()["message"]
    assert chat_on.requests == []


def test_get_is_405_json(chat_on, live_server_url, make_token):
    response = httpx.get(f"{live_server_url}/api/chat", headers={"Authorization": f"Bearer {make_token('u')}"})
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"


def test_offline_development_model_streams_a_labelled_reply(settings, dev_issuer_on, post_chat):
    settings.CHAT = {"OPENAI_API_KEY": "", "DEV_MODEL": True}
    chunks = sse_chunks(post_chat(chat_body("thread_dev", user_message("ping"))).text)
    text = _deltas(chunks)
    assert text.startswith("[Development model")
    assert "You said: ping" in text
    assert chunks[-1] == "[DONE]"


def test_a_stream_that_ends_without_finishing_is_an_error_and_incomplete(chat_on, post_chat):
    chat_on.script(Reply(deltas=["Cut", " short", " here"], end_after=3))
    chunks = sse_chunks(post_chat(chat_body("thread_cut_short")).text)
    assert {"type": "error", "errorText": "The model provider ended the reply early."} in chunks
    assert chunks[-2:] == [finish_chunk("error"), "[DONE]"]
    assistant = _assistant("thread_cut_short", Workspace("user_chat"))
    assert assistant.status == "incomplete"
    assert assistant.content["parts"][1]["text"] == "Cut short"


def test_an_error_event_in_the_upstream_stream_becomes_an_error_chunk(chat_on, post_chat):
    chat_on.script(Reply(deltas=["Some", " text", " more"], error_after=2))
    chunks = sse_chunks(post_chat(chat_body("thread_err_event")).text)
    assert {"type": "error", "errorText": "The model provider reported an error."} in chunks
    assert chunks[-1] == "[DONE]"
    assert _assistant("thread_err_event", Workspace("user_chat")).status == "incomplete"


def test_a_stop_then_the_history_adapters_save_is_a_stopped_reply_with_what_was_generated(
    chat_on, live_server_url, make_token
):
    """What `chat.stop()` + assistant-ui's history adapter do: abort the fetch, then POST the partial reply."""
    chat_on.script(Reply(deltas=[f" w{i}" for i in range(400)], delay=0.05))
    headers = {"Authorization": f"Bearer {make_token('user_chat')}"}
    seen: list[Any] = []
    with httpx.stream(
        "POST", f"{live_server_url}/api/chat", json=chat_body("thread_stopped"), headers=headers, timeout=30
    ) as response:
        for line in response.iter_lines():
            if line.startswith("data: {"):
                seen.append(json.loads(line[6:]))
                if sum(c["type"] == "text-delta" for c in seen) >= 3:
                    break  # the abort
    reply_id = seen[0]["messageId"]
    saved = httpx.post(
        f"{live_server_url}/api/threads/thread_stopped/messages",
        json={
            "id": reply_id,
            "parent_id": "msg_user_1",
            "format": "ai-sdk/v6",
            "content": {"role": "assistant", "parts": [{"type": "text", "text": "what the client had"}]},
        },
        headers=headers,
        timeout=30,
    )
    assert saved.status_code == 200  # the server's own copy of that reply
    assert chat_on.client_went_away.wait(10)  # the model call was stopped, not run to completion
    deadline = time.monotonic() + 10
    while _assistant("thread_stopped", Workspace("user_chat")).status in ("in_progress", "incomplete"):
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assistant = _assistant("thread_stopped", Workspace("user_chat"))
    assert assistant.status == "stopped"
    assert chat_on.finished_streams == 0
    text = next(p for p in assistant.content["parts"] if p["type"] == "text")["text"]
    assert text.startswith(" w0 w1 w2") and text != "what the client had"
    assert "metadata" not in assistant.content  # saved as streamed: no `finish` reached the client
    again = sse_chunks(
        httpx.post(
            f"{live_server_url}/api/chat",
            json=chat_body("thread_stopped", user_message("next", "msg_user_2")),
            headers=headers,
            timeout=30,
        ).text
    )
    assert again[-1] == "[DONE]"  # the thread takes the next message at once
