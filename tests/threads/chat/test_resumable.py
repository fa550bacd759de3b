"""Resumable mode: generations owned by the server, logged in Redis, resumed and stopped from any worker."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from typing import Any

import httpx
import pytest
import redis
from django.db import connection

from chatauth.caller import Workspace
from tests.support.chat import chat_body, finish_chunk, sse_chunks, user_message
from tests.support.isolation import REDIS_URL
from tests.support.node import needs_npm
from tests.support.openai_server import Reply
from tests.support.paths import NODE_DIR
from tests.support.redis_server import redis_up
from tests.support.workers import database_url_of, worker_env, worker_pair
from threads import services
from threads.chat.resumable import log_key
from threads.models import Message

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not redis_up(REDIS_URL), reason=f"resumable mode needs Redis ({REDIS_URL})"),
]
needs_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="worker processes share a database: PostgreSQL only"
)
SLOW = Reply(deltas=[f" w{i}" for i in range(40)], delay=0.05)
FULL_SLOW_TEXT = "".join(f" w{i}" for i in range(40))


def _auth(make_token: Any, user: str = "user_chat", org: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(user, org)}"}


def _post_and_leave(url: str, headers: dict[str, str], body: dict[str, Any], deltas: int = 3) -> list[Any]:
    """POST /api/chat, read a few text deltas, then drop the connection like a reloading browser."""
    chunks: list[Any] = []
    with httpx.stream("POST", f"{url}/api/chat", json=body, headers=headers, timeout=30) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("data: {"):
                chunks.append(json.loads(line[6:]))
                if sum(c["type"] == "text-delta" for c in chunks) >= deltas:
                    break
    return chunks


def _resume(url: str, headers: dict[str, str], thread_id: str) -> httpx.Response:
    return httpx.get(f"{url}/api/chat/{thread_id}/stream", headers=headers, timeout=30)


def _text(chunks: list[Any]) -> str:
    return "".join(c["delta"] for c in chunks if isinstance(c, dict) and c["type"] == "text-delta")


def _assistant(thread_id: str, user: str = "user_chat") -> Message:
    thread = services.thread_get(workspace=Workspace(user), thread_id=thread_id)
    return thread.messages.get(role="assistant")


def _wait_for_status(thread_id: str, timeout: float = 15) -> Message:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = _assistant(thread_id)
        if message.status != "in_progress":
            return message
        time.sleep(0.05)
    return _assistant(thread_id)


def test_idle_thread_resumes_with_204(resumable, live_server_url, make_token):
    services.thread_create(workspace=Workspace("user_chat"), thread_id="thread_idle")
    response = _resume(live_server_url, _auth(make_token), "thread_idle")
    assert response.status_code == 204
    assert response.content == b""


def test_the_generation_survives_the_client_leaving(resumable, live_server_url, make_token):
    resumable.script(SLOW)
    _post_and_leave(live_server_url, _auth(make_token), chat_body("thread_leave"))
    message = _wait_for_status("thread_leave")
    assert message.status == "complete"
    assert not resumable.client_went_away.is_set()
    assert resumable.finished_streams == 1
    assert next(p for p in message.content["parts"] if p["type"] == "text")["text"] == FULL_SLOW_TEXT


def streamed_id(frames: list[bytes]) -> str:
    return json.loads(frames[0][len(b"data: ") :])["messageId"]


def test_resume_replays_from_the_first_chunk_and_follows_live(resumable, live_server_url, make_token):
    resumable.script(SLOW)
    headers = _auth(make_token)
    first = _post_and_leave(live_server_url, headers, chat_body("thread_resume"))
    resumed = sse_chunks(_resume(live_server_url, headers, "thread_resume").text)
    assert resumed[: len(first)] == first
    assert resumed[0]["type"] == "start" and resumed[-1] == "[DONE]"
    assert _text(resumed) == FULL_SLOW_TEXT
    assert resumed[-2] == finish_chunk("stop")


def test_the_starting_response_carries_exactly_what_the_log_holds(resumable, live_server_url, make_token):
    """The request that started a generation gets its frames from the owner in process, not read back from
    Redis: the same frames, in the same order, as any later reader of the log gets."""
    response = httpx.post(
        f"{live_server_url}/api/chat", json=chat_body("thread_fed"), headers=_auth(make_token), timeout=30
    )
    streamed = [f + b"\n\n" for f in response.content.split(b"\n\n") if f and not f.startswith(b":")]
    logged = [fields[b"d"] for _, fields in redis.Redis.from_url(REDIS_URL).xrange(log_key(streamed_id(streamed)))]
    assert streamed == logged and logged[-1].startswith(b"data: [DONE]")


def _stop_a_long_reply(upstream: Any, base_url: str, headers: dict[str, str], thread_id: str) -> Message:
    """Start a long reply, leave, stop it with DELETE; the reply as saved once it ended."""
    upstream.script(Reply(deltas=[f" w{i}" for i in range(400)], delay=0.05))
    _post_and_leave(base_url, headers, chat_body(thread_id))
    response = httpx.delete(f"{base_url}/api/chat/{thread_id}/stream", headers=headers, timeout=30)
    assert response.status_code == 200
    return _wait_for_status(thread_id)


def test_a_stop_request_is_not_an_entry_of_the_log(resumable, live_server_url, make_token):
    """The owner follows a stream of its own for stops: the chunks it logs never wake it."""
    stopped = _stop_a_long_reply(resumable, live_server_url, _auth(make_token), "thread_stop_stream")
    assert stopped.status == "stopped"
    generation_id = stopped.message_id
    entries = redis.Redis.from_url(REDIS_URL).xrange(log_key(generation_id))
    assert entries and all(set(fields) == {b"d"} for _, fields in entries)


def test_the_log_expires_even_while_the_generation_runs(resumable, live_server_url, make_token):
    resumable.script(SLOW)
    _post_and_leave(live_server_url, _auth(make_token), chat_body("thread_ttl"), deltas=1)
    generation_id = _assistant("thread_ttl").message_id
    ttl = redis.Redis.from_url(REDIS_URL).ttl(log_key(generation_id))
    assert 0 < ttl <= 300 + 60
    assert _wait_for_status("thread_ttl").status == "complete"


def test_after_the_generation_ends_resume_is_204(resumable, live_server_url, make_token):
    headers = _auth(make_token)
    httpx.post(f"{live_server_url}/api/chat", json=chat_body("thread_done"), headers=headers, timeout=30)
    assert _wait_for_status("thread_done").status == "complete"
    assert _resume(live_server_url, headers, "thread_done").status_code == 204


def test_two_readers_each_get_the_whole_stream(resumable, live_server_url, make_token):
    resumable.script(SLOW)
    headers = _auth(make_token)
    _post_and_leave(live_server_url, headers, chat_body("thread_tabs"), deltas=1)
    results: list[list[Any]] = []

    def read() -> None:
        results.append(sse_chunks(_resume(live_server_url, headers, "thread_tabs").text))

    readers = [threading.Thread(target=read) for _ in range(2)]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join(30)
    assert len(results) == 2
    assert results[0] == results[1]
    assert _text(results[0]) == FULL_SLOW_TEXT


def test_a_second_post_while_generating_is_409_and_writes_nothing(resumable, live_server_url, make_token):
    resumable.script(SLOW)
    headers = _auth(make_token)
    _post_and_leave(live_server_url, headers, chat_body("thread_busy"), deltas=1)
    second = httpx.post(
        f"{live_server_url}/api/chat",
        json=chat_body("thread_busy", user_message("again", "msg_user_2")),
        headers=headers,
        timeout=30,
    )
    assert second.status_code == 409
    assert second.json()["error"] == "generation_in_progress"
    thread = services.thread_get(workspace=Workspace("user_chat"), thread_id="thread_busy")
    assert not thread.messages.filter(message_id="msg_user_2").exists()


def test_the_generation_holds_the_stream_slot_and_a_409_gives_its_own_back(
    settings, resumable, live_server_url, make_token
):
    settings.CHAT = {**settings.CHAT, "MAX_CONCURRENT_STREAMS": 2}
    resumable.script(SLOW)
    headers = _auth(make_token)
    _post_and_leave(live_server_url, headers, chat_body("thread_slot_a"), deltas=1)  # its generation holds slot 1
    busy = httpx.post(f"{live_server_url}/api/chat", json=chat_body("thread_slot_a"), headers=headers, timeout=30)
    assert busy.status_code == 409  # took slot 2 and gave it back
    resumable.script(SLOW)
    _post_and_leave(live_server_url, headers, chat_body("thread_slot_b"), deltas=1)  # slot 2
    third = httpx.post(f"{live_server_url}/api/chat", json=chat_body("thread_slot_c"), headers=headers, timeout=30)
    assert third.status_code == 429 and third.json()["error"] == "rate_limited"
    for thread_id in ("thread_slot_a", "thread_slot_b"):  # to [DONE]: by then the generation released its slot
        response = _resume(live_server_url, headers, thread_id)
        assert response.status_code == 204 or sse_chunks(response.text)[-1] == "[DONE]"
    for thread_id in ("thread_slot_d", "thread_slot_e"):  # both generations gave their slots back
        assert (
            sse_chunks(
                httpx.post(f"{live_server_url}/api/chat", json=chat_body(thread_id), headers=headers, timeout=30).text
            )[-1]
            == "[DONE]"
        )


def test_stop_cancels_the_model_call_and_saves_the_reply_as_stopped(resumable, live_server_url, make_token):
    headers = _auth(make_token)
    message = _stop_a_long_reply(resumable, live_server_url, headers, "thread_stop")
    assert resumable.client_went_away.wait(10)
    assert message.status == "stopped"
    assert next(p for p in message.content["parts"] if p["type"] == "text")["text"].startswith(" w0 w1 w2")
    assert _resume(live_server_url, headers, "thread_stop").status_code == 204


def test_a_stop_then_the_history_adapters_save_stops_a_server_owned_reply(resumable, live_server_url, make_token):
    """With resume on, an abort is only a disconnect: the client's save of the partial reply is the stop."""
    resumable.script(Reply(deltas=[f" w{i}" for i in range(400)], delay=0.05))
    headers = _auth(make_token)
    first = _post_and_leave(live_server_url, headers, chat_body("thread_adapter_stop"))
    saved = httpx.post(
        f"{live_server_url}/api/threads/thread_adapter_stop/messages",
        json={
            "id": first[0]["messageId"],
            "parent_id": "msg_user_1",
            "format": "ai-sdk/v6",
            "content": {"role": "assistant", "parts": [{"type": "text", "text": "partial"}]},
        },
        headers=headers,
        timeout=30,
    )
    assert saved.status_code == 200
    assert resumable.client_went_away.wait(10)
    message = _wait_for_status("thread_adapter_stop")
    assert message.status == "stopped"
    assert next(p for p in message.content["parts"] if p["type"] == "text")["text"].startswith(" w0 w1 w2")
    next_turn = httpx.post(
        f"{live_server_url}/api/chat",
        json=chat_body("thread_adapter_stop", user_message("next", "msg_user_2")),
        headers=headers,
        timeout=30,
    )
    assert next_turn.status_code == 200 and sse_chunks(next_turn.text)[-1] == "[DONE]"


def test_stop_with_nothing_running_is_204(resumable, live_server_url, make_token):
    services.thread_create(workspace=Workspace("user_chat"), thread_id="thread_quiet")
    response = httpx.delete(f"{live_server_url}/api/chat/thread_quiet/stream", headers=_auth(make_token))
    assert response.status_code == 204


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_resume_and_stop_refuse_signed_out_callers(resumable, live_server_url, method):
    response = httpx.request(method, f"{live_server_url}/api/chat/thread_x/stream")
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_resume_and_stop_of_another_workspaces_thread_is_404(resumable, live_server_url, make_token, method):
    resumable.script(SLOW)
    _post_and_leave(live_server_url, _auth(make_token), chat_body("thread_mine"), deltas=1)
    for user, org in [("user_other", None), ("user_chat", "org_1")]:
        response = httpx.request(
            method, f"{live_server_url}/api/chat/thread_mine/stream", headers=_auth(make_token, user, org)
        )
        assert response.status_code == 404
        assert response.json() == {"error": "not_found", "message": "Thread not found."}
    assert _wait_for_status("thread_mine").status == "complete"


@pytest.mark.node
@needs_npm("ai")
def test_ai_sdk_reconnect_assembles_the_same_message_as_an_uninterrupted_client(resumable, live_server_url, make_token):
    token = make_token("user_chat")
    long_reply = Reply(deltas=[f" w{i}" for i in range(150)], delay=0.03)
    resumable.script(long_reply, long_reply)
    for thread_id in ("thread_whole", "thread_cut"):  # titled already, so no title request takes a scripted reply
        services.thread_create(workspace=Workspace("user_chat"), thread_id=thread_id, title="Titled")
    uninterrupted = subprocess.run(
        [
            "node",
            str(NODE_DIR / "ai_chat.mjs"),
            f"{live_server_url}/api/chat",
            token,
            json.dumps(chat_body("thread_whole")),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=NODE_DIR,
    )
    _post_and_leave(live_server_url, {"Authorization": f"Bearer {token}"}, chat_body("thread_cut"))
    resumed = subprocess.run(
        ["node", str(NODE_DIR / "ai_resume.mjs"), f"{live_server_url}/api/chat", token, "thread_cut"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=NODE_DIR,
    )
    whole, again = json.loads(uninterrupted.stdout)["message"], json.loads(resumed.stdout)["message"]
    assert again["parts"] == whole["parts"]
    assert again["id"] == _assistant("thread_cut").message_id


@pytest.fixture
def resumable_workers(resumable: Any, settings: Any) -> Any:
    """Two resumable-mode worker processes (dev sign-in, the loopback upstream) sharing the test database and Redis."""
    env = worker_env(
        DEBUG="true",
        DATABASE_URL=database_url_of(connection.settings_dict),
        CACHE_URL=REDIS_URL,
        CLERK_DEV_KEY_FILE=settings.CLERK["DEV_KEY_FILE"],
        OPENAI_API_KEY="sk-test-server-side",
        OPENAI_BASE_URL=resumable.base_url,
        CHAT_MODEL="test-model",
        CHAT_RESUMABLE="true",
        CHAT_REDIS_URL=REDIS_URL,
        CHAT_LEASE_SECONDS="2",
        CHAT_KEEPALIVE_SECONDS="0.3",
        CHAT_RATE_LIMIT_REQUESTS="1000",
    )
    with worker_pair(env) as pair:
        yield pair


@needs_postgres
def test_resume_on_a_second_worker_process(resumable_workers, resumable, make_token):
    first, second = resumable_workers
    resumable.script(SLOW)
    headers = _auth(make_token)
    opened = _post_and_leave(first.url, headers, chat_body("thread_w2"))
    resumed = sse_chunks(_resume(second.url, headers, "thread_w2").text)
    assert resumed[: len(opened)] == opened
    assert _text(resumed) == FULL_SLOW_TEXT and resumed[-1] == "[DONE]"


@needs_postgres
def test_stop_from_another_worker_process(resumable_workers, resumable, make_token):
    first, second = resumable_workers
    resumable.script(Reply(deltas=[f" w{i}" for i in range(400)], delay=0.05))
    headers = _auth(make_token)
    _post_and_leave(first.url, headers, chat_body("thread_wstop"))
    assert httpx.delete(f"{second.url}/api/chat/thread_wstop/stream", headers=headers, timeout=30).status_code == 200
    assert resumable.client_went_away.wait(10)
    assert _wait_for_status("thread_wstop").status == "stopped"


@needs_postgres
def test_a_killed_worker_leaves_no_stream_open_forever(resumable_workers, resumable, make_token):
    first, second = resumable_workers
    resumable.script(Reply(deltas=[f" w{i}" for i in range(400)], delay=0.05))
    headers = _auth(make_token)
    _post_and_leave(first.url, headers, chat_body("thread_killed"))
    first.kill()
    resumed = sse_chunks(_resume(second.url, headers, "thread_killed").text)
    assert {"type": "error", "errorText": "The server generating this reply stopped before it finished."} in resumed
    assert resumed[-1] == "[DONE]"
    message = _wait_for_status("thread_killed")
    assert message.status == "incomplete"
    assert next(p for p in message.content["parts"] if p["type"] == "text")["text"].startswith(" w0 w1 w2")
