"""The chat turn's writes in few statements, each still scoped to its workspace."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from chatauth.caller import Workspace
from threads import services
from threads.models import Message

pytestmark = pytest.mark.django_db

ALICE = Workspace(user_id="user_alice")
BOB = Workspace(user_id="user_bob")
HELLO = {"role": "user", "parts": [{"type": "text", "text": "hello"}]}


def _reply(thread_id: str) -> Message:
    return services.message_get(thread=services.thread_get(workspace=ALICE, thread_id=thread_id), message_id="m_ai")


def _first_turn(workspace: Workspace, thread_id: str) -> tuple[Message, Message]:
    with transaction.atomic():
        thread = services.thread_create(workspace=workspace, thread_id=thread_id)
        return services.message_append_first_turn(
            thread=thread, format="ai-sdk/v6", user_content=HELLO, user_message_id="m_user", assistant_message_id="m_ai"
        )


def test_a_first_turn_is_the_user_message_with_an_in_progress_reply_under_it():
    user, _ = _first_turn(ALICE, "thr_first")
    stored = services.thread_get(workspace=ALICE, thread_id="thr_first").messages.order_by("height")
    assert [(m.message_id, m.role, m.status, m.height) for m in stored] == [
        ("m_user", "user", "complete", 0),
        ("m_ai", "assistant", "in_progress", 1),
    ]
    assert stored[1].parent_id == user.pk and stored[0].content == HELLO


def test_a_first_turn_is_two_inserts():
    with transaction.atomic():
        thread = services.thread_create(workspace=ALICE, thread_id="thr_count")
        with CaptureQueriesContext(connection) as queries:
            services.message_append_first_turn(
                thread=thread, format="ai-sdk/v6", user_content=HELLO, user_message_id="u", assistant_message_id="a"
            )
    assert [q["sql"].split()[0] for q in queries.captured_queries] == ["INSERT", "INSERT"]


def _thread(workspace: Workspace, thread_id: str):
    return services.thread_get(workspace=workspace, thread_id=thread_id)


def test_finishing_a_reply_is_one_update_of_its_threads_rows():
    _first_turn(ALICE, "thr_finish")
    thread = _thread(ALICE, "thr_finish")
    content = {"role": "assistant", "parts": [{"type": "text", "text": "hi"}]}
    with CaptureQueriesContext(connection) as queries:
        assert services.message_finish(
            thread=thread, message_id="m_ai", content=content, status="complete", only_in_progress=False
        )
    [update] = [q["sql"] for q in queries.captured_queries]
    assert update.startswith("UPDATE") and "JOIN" not in update and " IN (SELECT" not in update
    reply = _reply("thr_finish")
    assert (reply.status, reply.content) == ("complete", content)


def test_another_workspace_cannot_reach_a_reply_to_finish():
    _first_turn(ALICE, "thr_guarded")
    with pytest.raises(services.NotFound):
        _thread(BOB, "thr_guarded")  # the only way to a thread to finish a reply of
    assert _reply("thr_guarded").status == "in_progress"


def test_finishing_touches_only_the_named_threads_reply():
    _first_turn(ALICE, "thr_one")
    _first_turn(BOB, "thr_two")  # the same message ids, in another workspace's thread
    assert services.message_finish(
        thread=_thread(ALICE, "thr_one"), message_id="m_ai", content={}, status="complete", only_in_progress=False
    )
    other = services.message_get(thread=_thread(BOB, "thr_two"), message_id="m_ai")
    assert other.status == "in_progress"


def test_a_reply_already_ended_is_not_overwritten_when_only_in_progress_ones_may_be():
    _first_turn(ALICE, "thr_ended")
    kwargs = {"thread": _thread(ALICE, "thr_ended"), "message_id": "m_ai"}
    assert services.message_finish(**kwargs, content={"parts": ["x"]}, status="stopped", only_in_progress=True)
    assert not services.message_finish(**kwargs, content={}, status="incomplete", only_in_progress=True)
    reply = _reply("thr_ended")
    assert (reply.status, reply.content) == ("stopped", {"parts": ["x"]})


def test_an_unusable_id_finishes_nothing():
    _first_turn(ALICE, "thr_unusable")
    assert not services.message_finish(
        thread=_thread(ALICE, "thr_unusable"), message_id="m\x00", content={}, status="complete", only_in_progress=False
    )


def test_a_generated_title_never_replaces_one_the_user_gave():
    thread = services.thread_create(workspace=ALICE, thread_id="thr_named")
    services.thread_update(thread=thread, title="Mine")
    assert not services.thread_title_if_untitled(workspace=ALICE, thread_id="thr_named", title="Generated")
    assert services.thread_get(workspace=ALICE, thread_id="thr_named").title == "Mine"


def test_an_untitled_thread_gets_the_title_only_in_its_own_workspace():
    services.thread_create(workspace=ALICE, thread_id="thr_untitled")
    assert not services.thread_title_if_untitled(workspace=BOB, thread_id="thr_untitled", title="Bob's")
    assert services.thread_title_if_untitled(workspace=ALICE, thread_id="thr_untitled", title="Greeting")
    assert services.thread_get(workspace=ALICE, thread_id="thr_untitled").title == "Greeting"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("durable_later", [False, True])
def test_a_claim_creates_the_thread_once_and_a_taken_id_is_none_whoever_has_it(durable_later):
    claimed = services.thread_claim(workspace=ALICE, thread_id="thr_claim", durable_later=durable_later)
    assert claimed is not None and claimed.workspace == ALICE
    assert services.thread_get(workspace=ALICE, thread_id="thr_claim").pk == claimed.pk
    assert services.thread_claim(workspace=ALICE, thread_id="thr_claim", durable_later=durable_later) is None
    assert services.thread_claim(workspace=BOB, thread_id="thr_claim", durable_later=durable_later) is None
    with pytest.raises(services.NotFound):
        services.thread_get(workspace=BOB, thread_id="thr_claim")


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's commit modes")
def test_a_claim_flushed_later_changes_the_commit_mode_of_its_own_statement_only():
    services.thread_claim(workspace=ALICE, thread_id="thr_unflushed", durable_later=True)
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"
