"""threads.portability: export / delete / import of one user's or one organization's chat data."""

from __future__ import annotations

import io
import json

import pytest

from tests.support.data import make_thread, thread_ids
from threads.models import Message, MessageFeedback, RunReport, Thread
from threads.portability import PortabilityError, Selection, delete_threads, export_threads
from threads.restore import import_threads, read_export

pytestmark = pytest.mark.django_db


def export(selection: Selection) -> dict:
    out = io.StringIO()
    export_threads(selection, out, batch_size=2)
    return json.loads(out.getvalue())


def without_timestamp(document: dict) -> dict:
    return {k: v for k, v in document.items() if k != "exported_at"}


def test_export_delete_import_round_trip_loses_nothing(world):
    first = export(Selection(user_id="user_alice"))
    assert {t["id"] for t in first["threads"]} == {world.alice_personal.id, world.alice_acme.id, world.alice_globex.id}

    delete_threads(Selection(user_id="user_alice"))
    assert thread_ids(user_id="user_alice") == set()

    counts = import_threads(read_export(json.dumps(first)))
    assert (counts.threads, counts.messages, counts.feedback, counts.run_reports) == (3, 12, 6, 3)
    assert without_timestamp(export(Selection(user_id="user_alice"))) == without_timestamp(first)


def test_round_trip_keeps_timestamps_tree_and_feedback(world):
    document = export(Selection(user_id="user_alice", org_id="org_acme"))
    delete_threads(Selection(user_id="user_alice", org_id="org_acme"))
    import_threads(document)
    thread = Thread.unscoped_for_operators.get(id=world.alice_acme.id)
    assert (thread.created_at, thread.updated_at, thread.last_message_at) == (
        world.alice_acme.created_at,
        world.alice_acme.updated_at,
        world.alice_acme.last_message_at,
    )
    edit = Message.unscoped_for_operators.get(thread=thread, message_id__endswith="_edit")
    assert edit.parent.message_id.endswith("_0")
    feedback = MessageFeedback.unscoped_for_operators.filter(message__thread=thread)
    assert sorted(feedback.values_list("type", flat=True)) == [
        "negative",
        "positive",
    ]


def test_user_selection_covers_personal_and_every_organization(world):
    assert {t["title"] for t in export(Selection(user_id="user_alice"))["threads"]} == {
        "alice personal",
        "alice acme",
        "alice globex",
    }


def test_organization_selection_covers_every_member(world):
    assert {t["title"] for t in export(Selection(org_id="org_acme"))["threads"]} == {"alice acme", "bob acme"}


def test_delete_removes_messages_feedback_and_run_reports_and_nothing_else(world):
    counts = delete_threads(Selection(org_id="org_acme"))
    assert (counts.threads, counts.messages, counts.feedback, counts.run_reports) == (2, 8, 4, 2)
    assert thread_ids() == {world.alice_personal.id, world.alice_globex.id, world.bob_personal.id}
    assert not Message.unscoped_for_operators.filter(thread__org_id="org_acme").exists()
    assert RunReport.unscoped_for_operators.count() == 3


def test_import_of_existing_threads_is_refused_without_replace_and_writes_nothing(world):
    document = export(Selection(user_id="user_bob"))
    Thread.unscoped_for_operators.filter(id=world.bob_personal.id).delete()
    with pytest.raises(PortabilityError, match="already exist"):
        import_threads(document)
    assert world.bob_personal.id not in thread_ids()


def test_import_with_replace_overwrites_existing_threads(world):
    document = export(Selection(user_id="user_bob"))
    Thread.unscoped_for_operators.filter(id=world.bob_acme.id).update(title="changed")
    Message.unscoped_for_operators.filter(thread=world.bob_acme).delete()
    import_threads(document, replace=True)
    assert Thread.unscoped_for_operators.get(id=world.bob_acme.id).title == "bob acme"
    assert Message.unscoped_for_operators.filter(thread=world.bob_acme).count() == 4


@pytest.mark.parametrize(
    ("mutate", "error"),
    [
        (lambda d: d["threads"][0].pop("user_id"), r"threads\[0\]\.user_id: missing"),
        (lambda d: d["threads"][0].update(is_archived="yes"), r"threads\[0\]\.is_archived: expected true or false"),
        (lambda d: d["threads"][0]["messages"][1].update(parent_id="msg_nope"), "parent 'msg_nope'"),
        (lambda d: d["threads"][0]["messages"][0].update(created_at="yesterday"), "ISO 8601"),
        (lambda d: d["threads"].append(dict(d["threads"][0])), "appears twice"),
        (lambda d: d["threads"][0]["messages"][0].update(parent_id=d["threads"][0]["messages"][2]["id"]), "cycle"),
    ],
)
def test_invalid_import_names_the_problem_and_writes_nothing(db, mutate, error):
    make_thread("user_carol")
    document = export(Selection(user_id="user_carol"))
    Thread.unscoped_for_operators.all().delete()
    mutate(document)
    with pytest.raises(PortabilityError, match=error):
        import_threads(document)
    assert Thread.unscoped_for_operators.count() == 0
    assert Message.unscoped_for_operators.count() == 0


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        ("{not json", "not a JSON document"),
        ('{"threads": []}', "not a thread export"),
        ('{"format": "chat-threads-export", "version": 99, "threads": []}', "unsupported export version 99"),
        ('{"format": "chat-threads-export", "version": 1, "threads": {}}', "threads: expected a list"),
    ],
)
def test_read_export_refuses_what_is_not_an_export(raw, error):
    with pytest.raises(PortabilityError, match=error):
        read_export(raw)


def test_selection_needs_a_user_or_an_organization():
    with pytest.raises(PortabilityError, match="select a user"):
        Selection()
