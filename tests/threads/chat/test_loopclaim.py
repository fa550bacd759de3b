"""A new chat's claim on the event loop: the thread it makes, its one connection per loop, and its fallbacks."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from asgiref.sync import async_to_sync
from django.db import connection

from chatauth.caller import Workspace
from tests.support.backends import backends_seen_from_a_new_connection, other_backends, wait_until_gone
from tests.support.chat import chat_body, sse_chunks, user_message
from tests.support.openai_server import Reply
from threads import services
from threads.chat import dbgate, loopclaim
from threads.models import Thread

pytestmark = pytest.mark.django_db(transaction=True)

postgresql_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="the loop's claim is PostgreSQL's")

ALICE = Workspace("user_alice", None)
BOB = Workspace("user_bob", None)


def _loop_backend() -> int | None:
    """The backend of the running loop's claim connection (None when it has none)."""
    state = loopclaim._per_loop.get(asyncio.get_running_loop())
    held = state.connection if state is not None else None
    return held.info.backend_pid if held is not None else None


def _on_a_loop(fn: Callable[[], Any]) -> Any:
    return asyncio.run(fn())


@postgresql_only
def test_a_claim_on_the_loop_makes_the_thread_in_the_callers_workspace():
    claimed = _on_a_loop(lambda: loopclaim.claim(workspace=ALICE, thread_id="thread_loop_1"))
    assert isinstance(claimed, Thread)
    stored = services.thread_get(workspace=ALICE, thread_id="thread_loop_1")
    assert (stored.user_id, stored.org_id, stored.workspace_key) == ("user_alice", None, ALICE.key)
    assert claimed.pk == stored.pk and not claimed._state.adding


@postgresql_only
def test_a_taken_id_is_none_and_the_thread_stays_its_owners():
    services.thread_claim(workspace=ALICE, thread_id="thread_loop_taken")
    assert _on_a_loop(lambda: loopclaim.claim(workspace=BOB, thread_id="thread_loop_taken")) is None
    assert services.thread_get(workspace=ALICE, thread_id="thread_loop_taken").user_id == "user_alice"
    with pytest.raises(services.NotFound):
        services.thread_get(workspace=BOB, thread_id="thread_loop_taken")


@postgresql_only
def test_successive_claims_share_the_loops_one_connection(settings):
    settings.CHAT = {**settings.CHAT, "DB_KEEP_SECONDS": 30.0}

    async def claims() -> list[int | None]:
        pids = []
        for i in range(3):
            await loopclaim.claim(workspace=ALICE, thread_id=f"thread_loop_share_{i}")
            pids.append(_loop_backend())
        return pids

    pids = _on_a_loop(claims)
    assert pids[0] is not None and pids == [pids[0]] * 3


@postgresql_only
def test_a_claim_that_finds_the_connection_busy_is_left_to_the_database_threads():
    async def two_at_once() -> list[Any]:
        return list(
            await asyncio.gather(
                loopclaim.claim(workspace=ALICE, thread_id="thread_loop_busy_1"),
                loopclaim.claim(workspace=ALICE, thread_id="thread_loop_busy_2"),
            )
        )

    first, second = _on_a_loop(two_at_once)
    assert isinstance(first, Thread)
    assert second is loopclaim.UNAVAILABLE  # never a second connection for the loop
    with pytest.raises(services.NotFound):
        services.thread_get(workspace=ALICE, thread_id="thread_loop_busy_2")


@postgresql_only
def test_a_connection_the_server_dropped_is_replaced_not_failed_on(settings):
    settings.CHAT = {**settings.CHAT, "DB_KEEP_SECONDS": 30.0}

    async def claim_across_a_drop() -> tuple[int | None, Any, int | None]:
        await loopclaim.claim(workspace=ALICE, thread_id="thread_loop_drop_1")
        first = _loop_backend()
        await asyncio.to_thread(_terminate, first)
        claimed = await loopclaim.claim(workspace=ALICE, thread_id="thread_loop_drop_2")
        return first, claimed, _loop_backend()

    first, claimed, second = _on_a_loop(claim_across_a_drop)
    assert isinstance(claimed, Thread)
    assert second is not None and second != first


def _terminate(pid: int | None) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    wait_until_gone(pid)  # type: ignore[arg-type]
    connection.close()  # opened in this helper's thread: closed in it


@postgresql_only
def test_a_cancelled_request_leaves_its_claim_to_finish_and_the_connection_usable(settings):
    settings.CHAT = {**settings.CHAT, "DB_KEEP_SECONDS": 30.0}

    async def cancel_then_claim() -> Any:
        request = asyncio.ensure_future(loopclaim.claim(workspace=ALICE, thread_id="thread_loop_cancelled"))
        await asyncio.sleep(0)  # the claim is on its way
        request.cancel()
        with pytest.raises(asyncio.CancelledError):
            await request
        for _ in range(100):  # the statement finishes on its own
            if not loopclaim._per_loop[asyncio.get_running_loop()].busy:
                break
            await asyncio.sleep(0.01)
        return await loopclaim.claim(workspace=ALICE, thread_id="thread_loop_after_cancel")

    assert isinstance(_on_a_loop(cancel_then_claim), Thread)
    services.thread_get(workspace=ALICE, thread_id="thread_loop_cancelled")  # the statement was not cut short


@postgresql_only
def test_an_idle_connection_is_closed_after_the_keep_time(settings):
    settings.CHAT = {**settings.CHAT, "DB_KEEP_SECONDS": 0.2}

    async def claim_then_idle() -> tuple[int | None, int | None]:
        await loopclaim.claim(workspace=ALICE, thread_id="thread_loop_idle")
        pid = _loop_backend()
        await asyncio.sleep(0.6)
        return pid, _loop_backend()

    pid, after = _on_a_loop(claim_then_idle)
    assert pid is not None and after is None
    wait_until_gone(pid)


@postgresql_only
def test_the_connection_is_closed_when_its_loop_ends(settings):
    settings.CHAT = {**settings.CHAT, "DB_KEEP_SECONDS": 30.0}

    async def claim() -> int | None:
        await loopclaim.claim(workspace=ALICE, thread_id="thread_loop_end")
        return _loop_backend()

    pid = _on_a_loop(claim)
    assert pid is not None
    wait_until_gone(pid)


@postgresql_only
def test_under_async_to_sync_the_claim_is_left_to_the_callers_connection():
    """Django's test client and management commands: their database work belongs to their own transaction."""
    assert async_to_sync(loopclaim.claim)(workspace=ALICE, thread_id="thread_loop_sync") is loopclaim.UNAVAILABLE


def test_turned_off_or_on_another_database_no_claim_is_made_on_the_loop(settings):
    settings.CHAT = {**settings.CHAT, "CLAIM_ON_LOOP": connection.vendor != "postgresql"}
    assert _on_a_loop(lambda: loopclaim.claim(workspace=ALICE, thread_id="thread_loop_off")) is loopclaim.UNAVAILABLE
    with pytest.raises(services.NotFound):
        services.thread_get(workspace=ALICE, thread_id="thread_loop_off")


@postgresql_only
def test_a_new_resumable_chat_streams_and_stores_its_turn(resumable, post_chat):
    response = post_chat(chat_body("thread_loop_chat", user_message("hello", "u_loop_1")), user="user_alice")
    assert response.status_code == 200
    assert any(chunk.get("type") == "text-delta" for chunk in sse_chunks(response.text))
    thread = services.thread_get(workspace=ALICE, thread_id="thread_loop_chat")
    assert [m.role for m in services.messages_in_tree_order(thread=thread)] == ["user", "assistant"]


@postgresql_only
def test_another_workspaces_id_is_a_404_and_nothing_of_it_reaches_the_model(resumable, post_chat):
    post_chat(chat_body("thread_loop_owned", user_message("mine", "u_loop_2")), user="user_alice")
    calls = len(resumable.chat_requests)
    response = post_chat(chat_body("thread_loop_owned", user_message("theirs", "u_loop_3")), user="user_bob")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    for sent in resumable.chat_requests[calls:]:  # sent once Bob was admitted: his own message alone
        assert [m for m in sent["body"]["messages"] if m["role"] != "system"] == [{"role": "user", "content": "theirs"}]
    thread = services.thread_get(workspace=ALICE, thread_id="thread_loop_owned")
    assert [m.role for m in services.messages_in_tree_order(thread=thread)] == ["user", "assistant"]


@postgresql_only
def test_a_resumable_burst_holds_at_most_the_database_threads_and_the_loops_connection(
    settings, resumable, live_server_url, make_token
):
    settings.CHAT = {**settings.CHAT, "DB_CONCURRENCY": 2, "DB_KEEP_SECONDS": 30.0}
    resumable.script(*[Reply(deltas=[f" w{i}" for i in range(40)], delay=0.02) for _ in range(12)])
    dbgate.shutdown()  # no connection kept from earlier tests
    before = other_backends()  # any other session still on the database is not this burst's
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        main_pid = cursor.fetchone()[0]

    async def chat(client: httpx.AsyncClient, i: int) -> tuple[int, int]:
        headers = {"Authorization": f"Bearer {make_token(f'user_loop_burst_{i}')}"}
        body = chat_body(f"thread_loop_burst_{i}", user_message("hi", f"u_loop_burst_{i}"))
        peak = 0
        async with client.stream("POST", f"{live_server_url}/api/chat", json=body, headers=headers) as response:
            async for line in response.aiter_lines():
                if line.startswith('data: {"type":"text-delta"'):
                    peak = max(peak, await asyncio.to_thread(backends_seen_from_a_new_connection, main_pid))
        return response.status_code, peak

    async def burst() -> list[tuple[int, int]]:
        async with httpx.AsyncClient(timeout=30) as client:
            return await asyncio.gather(*(chat(client, i) for i in range(12)))

    results = asyncio.run(burst())
    assert [status for status, _ in results] == [200] * 12
    assert max(peak for _, peak in results) <= before + 2 + 1  # DB_CONCURRENCY threads, plus the loop's one


@postgresql_only
def test_a_new_resumable_chat_is_claimed_on_the_servers_loop(resumable, post_chat):
    assert (
        post_chat(chat_body("thread_loop_seen", user_message("hi", "u_loop_4")), user="user_alice").status_code == 200
    )
    assert any(state.connection is not None for state in loopclaim._per_loop.values())
