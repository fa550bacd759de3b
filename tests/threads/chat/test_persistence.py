"""Where a chat turn is saved: the caller's thread (new or existing), the message tree, idempotence."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chatauth.caller import Workspace
from tests.support.backends import backends_seen_from_a_new_connection, other_backends
from tests.support.chat import chat_body, finish_chunk, sse_chunks, user_message
from tests.support.openai_server import Reply
from threads import services
from threads.chat import dbgate
from threads.chat.records import prepare_turn
from threads.chat.request import parse_chat_request
from threads.chat.turns import FORMAT
from threads.models import Thread

pytestmark = pytest.mark.django_db(transaction=True)


def _thread(user: str, thread_id: str, org: str | None = None) -> Thread:
    return services.thread_get(workspace=Workspace(user, org), thread_id=thread_id)


def test_an_unknown_id_creates_the_thread_in_the_callers_workspace_under_that_id(chat_on, post_chat):
    post_chat(chat_body("client_made_id_1"), user="user_p", org="org_p")
    thread = _thread("user_p", "client_made_id_1", "org_p")
    assert thread.messages.count() == 2
    with pytest.raises(services.NotFound):
        _thread("user_p", "client_made_id_1")  # the personal workspace is another workspace


def test_the_next_user_message_hangs_under_the_previous_assistant_reply(chat_on, post_chat):
    first = sse_chunks(post_chat(chat_body("thread_tree", user_message("one", "u1")), user="user_p").text)
    reply_id = first[0]["messageId"]
    history = [
        user_message("one", "u1"),
        {"id": reply_id, "role": "assistant", "parts": [{"type": "text", "text": "Hello from upstream"}]},
        user_message("two", "u2"),
    ]
    second = sse_chunks(post_chat(chat_body("thread_tree", *history), user="user_p").text)
    messages = {m.message_id: m for m in _thread("user_p", "thread_tree").messages.select_related("parent")}
    assert messages["u2"].parent.message_id == reply_id
    assert messages[second[0]["messageId"]].parent.message_id == "u2"
    assert messages["u1"].parent is None


def test_a_user_message_the_client_saved_itself_is_not_stored_twice(chat_on, post_chat):
    thread = services.thread_create(workspace=Workspace("user_p"), thread_id="thread_presaved")
    services.message_append(
        thread=thread,
        format=FORMAT,
        content={"role": "user", "parts": [{"type": "text", "text": "Hi there"}]},
        message_id="msg_user_1",
    )
    post_chat(chat_body("thread_presaved"), user="user_p")
    assert list(thread.messages.order_by("height").values_list("role", flat=True)) == ["user", "assistant"]


def test_regenerating_adds_a_sibling_reply_under_the_same_user_message(chat_on, post_chat):
    post_chat(chat_body("thread_regen"), user="user_p")
    post_chat(chat_body("thread_regen", trigger="regenerate-message"), user="user_p")
    thread = _thread("user_p", "thread_regen")
    user = thread.messages.get(role="user")
    replies = thread.messages.filter(role="assistant")
    assert replies.count() == 2
    assert {r.parent_id for r in replies} == {user.pk}


def test_the_assistant_message_is_in_progress_while_streaming_and_complete_after(chat_on, post_chat):
    chunks = sse_chunks(post_chat(chat_body("thread_status"), user="user_p").text)
    message = services.message_get(thread=_thread("user_p", "thread_status"), message_id=chunks[0]["messageId"])
    assert message.status == "complete"
    assert message.content["role"] == "assistant"
    # Saved as streamed: the metadata is exactly the messageMetadata the client received, nothing more.
    assert (
        message.content["metadata"] == chunks[-2]["messageMetadata"] == {"model": "test-model", "finishReason": "stop"}
    )


@pytest.mark.skipif(connection.vendor != "postgresql", reason="counts PostgreSQL backends")
def test_open_streams_hold_no_database_connection(settings, chat_on, live_server_url, make_token):
    """Four replies streaming at once, on a worker with one database thread: one connection at most (the thread's,
    kept for the next call), whatever the number of open streams."""
    settings.CHAT = {**settings.CHAT, "DB_CONCURRENCY": 1}
    chat_on.script(*[Reply(deltas=[f" w{i}" for i in range(60)], delay=0.05) for _ in range(4)])
    dbgate.shutdown()  # no connection kept from earlier tests
    before = other_backends()
    with connection.cursor() as cursor:  # the test's own connection is not counted
        cursor.execute("SELECT pg_backend_pid()")
        main_pid = cursor.fetchone()[0]

    async def stream(client: httpx.AsyncClient, i: int) -> int:
        headers = {"Authorization": f"Bearer {make_token(f'user_p{i}')}"}
        body = chat_body(f"thread_conn_{i}", user_message("hi", f"u_conn_{i}"))
        peak = 0
        async with client.stream("POST", f"{live_server_url}/api/chat", json=body, headers=headers) as response:
            deltas = 0
            async for line in response.aiter_lines():
                deltas += line.startswith('data: {"type":"text-delta"')
                if deltas == 5:
                    peak = await asyncio.to_thread(backends_seen_from_a_new_connection, main_pid)
                if deltas == 6:
                    break
        return peak

    async def streams() -> list[int]:
        async with httpx.AsyncClient(timeout=30) as client:
            return await asyncio.gather(*(stream(client, i) for i in range(4)))

    assert max(asyncio.run(streams())) <= before + 1


def test_a_burst_wider_than_the_database_concurrency_all_succeeds(settings, chat_on, live_server_url, make_token):
    settings.CHAT = {**settings.CHAT, "DB_CONCURRENCY": 1}
    chat_on.script(*[Reply(deltas=["a", "b"], delay=0.05) for _ in range(12)])

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=30) as client:
            return await asyncio.gather(
                *(
                    client.post(
                        f"{live_server_url}/api/chat",
                        json=chat_body(f"thread_burst_{i}", user_message("hi", f"u_burst_{i}")),
                        headers={"Authorization": f"Bearer {make_token(f'user_burst_{i}')}"},
                    )
                    for i in range(6)
                )
            )

    responses = asyncio.run(burst())
    assert [r.status_code for r in responses] == [200] * 6
    assert all(sse_chunks(r.text)[-2] == finish_chunk("stop") for r in responses)
    for i in range(6):
        assert _thread(f"user_burst_{i}", f"thread_burst_{i}").messages.get(role="assistant").status == "complete"


@pytest.mark.django_db(transaction=True)
def test_a_new_chats_turn_is_written_in_one_transaction_of_a_few_statements():
    """Thread, user message and in-progress reply: no lookups in a thread created for the turn (each was a round
    trip on PostgreSQL before the first byte)."""
    request = parse_chat_request(json.dumps(chat_body("thread_few_statements")).encode())
    with CaptureQueriesContext(connection) as queries:
        turn = prepare_turn(workspace=Workspace("user_few"), request=request)
    statements = [q["sql"].split()[0].upper() for q in queries.captured_queries]
    assert turn.user_message_id == "msg_user_1"
    assert "SELECT" not in statements  # a new chat's id is claimed by inserting it (a taken id: see below)
    assert statements.count("INSERT") == 3  # thread, user message, reply
    assert "UPDATE" not in statements


def test_a_first_message_for_a_thread_of_another_workspace_is_not_found_and_writes_nothing():
    """The insert that claims a new chat's id fails on a taken id; the lookup after it is scoped, so another
    workspace's thread is a 404 and the turn stores nothing in it."""
    owner, intruder = Workspace("user_owner"), Workspace("user_intruder")
    prepare_turn(workspace=owner, request=parse_chat_request(json.dumps(chat_body("thread_taken")).encode()))
    request = parse_chat_request(json.dumps(chat_body("thread_taken", user_message("mine now"))).encode())
    with pytest.raises(services.NotFound):
        prepare_turn(workspace=intruder, request=request)
    thread = services.thread_get(workspace=owner, thread_id="thread_taken")
    assert thread.messages.count() == 2 and thread.workspace_key == owner.key


def test_a_first_message_sent_again_to_its_own_thread_is_answered_again():
    """The same new-chat body twice (a retry, a second tab): the second insert finds the id taken by this workspace,
    and the turn is a regeneration under the stored message."""
    workspace = Workspace("user_again")
    body = json.dumps(chat_body("thread_again")).encode()
    first = prepare_turn(workspace=workspace, request=parse_chat_request(body))
    second = prepare_turn(workspace=workspace, request=parse_chat_request(body))
    assert second.user_message_id == first.user_message_id
    assert second.assistant_message_id != first.assistant_message_id
