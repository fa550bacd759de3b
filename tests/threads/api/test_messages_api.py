"""The message endpoints: append (idempotent), tree order, updates, moves, validation and isolation."""

from __future__ import annotations

import json

import pytest

from threads.models import Message, Thread

pytestmark = pytest.mark.django_db

MESSAGE_KEYS = {"id", "parent_id", "height", "format", "content", "status", "created_at", "updated_at"}
USER = {"role": "user", "content": [{"type": "text", "text": "hi"}]}
ASSISTANT = {"role": "assistant", "content": [{"type": "text", "text": "hello"}]}


@pytest.fixture
def thread(alice):
    return alice.new_thread()


def messages_path(thread) -> str:
    return f"/api/threads/{thread['id']}/messages"


def test_append_returns_201_with_the_message_row(alice, thread):
    response = alice.post(messages_path(thread), {"format": "aui/v0", "content": USER})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == MESSAGE_KEYS
    assert body["parent_id"] is None
    assert body["height"] == 0
    assert body["format"] == "aui/v0"
    assert body["content"] == USER
    assert body["status"] == "complete"


def test_append_keeps_a_client_supplied_id(alice, thread):
    body = alice.append(thread["id"], USER, id="m-client-1")
    assert body["id"] == "m-client-1"


def test_appending_the_same_id_again_returns_the_stored_message_without_duplicating(alice, thread):
    first = alice.post(messages_path(thread), {"id": "m1", "format": "aui/v0", "content": USER})
    again = alice.post(messages_path(thread), {"id": "m1", "format": "aui/v0", "content": USER})
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json() == first.json()
    assert Message.unscoped_for_operators.filter(thread_id=thread["id"]).count() == 1


def test_the_same_client_id_is_independent_in_another_thread(alice, thread):
    other = alice.new_thread()
    alice.append(thread["id"], USER, id="m1")
    response = alice.post(messages_path(other), {"id": "m1", "format": "aui/v0", "content": USER})
    assert response.status_code == 201


def test_a_child_gets_height_one_more_than_its_parent(alice, thread):
    root = alice.append(thread["id"], USER)
    child = alice.append(thread["id"], ASSISTANT, parent_id=root["id"])
    grandchild = alice.append(thread["id"], USER, parent_id=child["id"])
    assert (root["height"], child["height"], grandchild["height"]) == (0, 1, 2)
    assert grandchild["parent_id"] == child["id"]


def test_list_returns_parents_before_children_including_branches(alice, thread):
    root = alice.append(thread["id"], USER, id="a")
    reply = alice.append(thread["id"], ASSISTANT, id="b", parent_id="a")
    regenerated = alice.append(thread["id"], ASSISTANT, id="c", parent_id="a")
    edited = alice.append(thread["id"], USER, id="d")  # an edit of the first message: a second root
    deep = alice.append(thread["id"], USER, id="e", parent_id="c")
    rows = alice.get(messages_path(thread)).json()["messages"]
    position = {row["id"]: i for i, row in enumerate(rows)}
    assert set(position) == {"a", "b", "c", "d", "e"}
    for row in rows:
        if row["parent_id"] is not None:
            assert position[row["parent_id"]] < position[row["id"]]
    assert [r["id"] for r in rows] == [root["id"], edited["id"], reply["id"], regenerated["id"], deep["id"]]


def test_list_rows_have_the_documented_keys(alice, thread):
    alice.append(thread["id"], USER)
    (row,) = alice.get(messages_path(thread)).json()["messages"]
    assert set(row) == MESSAGE_KEYS


def test_list_filters_by_format(alice, thread):
    alice.append(thread["id"], USER, id="old", format="aui/v0")
    alice.append(thread["id"], {"role": "user", "parts": []}, id="new", format="ai-sdk/v6")
    rows = alice.get(messages_path(thread), format="ai-sdk/v6").json()["messages"]
    assert [r["id"] for r in rows] == ["new"]


def test_other_formats_are_stored_as_given(alice, thread):
    body = alice.append(thread["id"], {"anything": [1, {"x": None}]}, format="my-app/v3")
    assert body["format"] == "my-app/v3"
    assert body["content"] == {"anything": [1, {"x": None}]}


def test_a_user_message_bumps_the_threads_last_message_at(alice, thread):
    before = Thread.unscoped_for_operators.get(pk=thread["id"]).last_message_at
    alice.append(thread["id"], USER)
    assert Thread.unscoped_for_operators.get(pk=thread["id"]).last_message_at > before


def test_an_assistant_message_does_not_bump_last_message_at(alice, thread):
    before = Thread.unscoped_for_operators.get(pk=thread["id"]).last_message_at
    alice.append(thread["id"], ASSISTANT)
    assert Thread.unscoped_for_operators.get(pk=thread["id"]).last_message_at == before


def test_a_parent_that_does_not_exist_is_400(alice, thread):
    response = alice.post(messages_path(thread), {"format": "aui/v0", "content": USER, "parent_id": "nope"})
    assert response.status_code == 400
    assert "parent_id" in response.json()["message"]


def test_a_parent_from_another_thread_is_400_like_an_unknown_parent(alice, thread):
    other = alice.new_thread()
    alice.append(other["id"], USER, id="elsewhere")
    foreign = alice.post(messages_path(thread), {"format": "aui/v0", "content": USER, "parent_id": "elsewhere"})
    unknown = alice.post(messages_path(thread), {"format": "aui/v0", "content": USER, "parent_id": "nowhere"})
    assert foreign.status_code == unknown.status_code == 400
    assert foreign.json()["message"].replace("elsewhere", "?") == unknown.json()["message"].replace("nowhere", "?")
    assert Message.unscoped_for_operators.filter(thread_id=thread["id"]).count() == 0


def test_a_parent_from_another_workspace_answers_exactly_like_an_unknown_one(alice, bob, thread):
    theirs = bob.new_thread()
    bob.append(theirs["id"], USER, id="bobs-message")
    foreign = alice.post(messages_path(thread), {"format": "aui/v0", "content": USER, "parent_id": "bobs-message"})
    alice.post(messages_path(thread), {"format": "aui/v0", "content": USER, "parent_id": "never-existed"})
    unknown = alice.post(messages_path(thread), {"format": "aui/v0", "content": USER, "parent_id": "bobs-message"})
    assert foreign.status_code == 400
    assert foreign.json() == unknown.json()
    assert "bobs-message" in foreign.json()["message"]  # echoes the caller's own input, reveals nothing more


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"content": USER}, "format"),
        ({"format": "aui/v0"}, "content"),
        ({"format": 3, "content": USER}, "format"),
        ({"format": "aui/v0", "content": "text"}, "content"),
        ({"format": "aui/v0", "content": [USER]}, "content"),
        ({"format": "aui/v0", "content": USER, "id": 5}, "id"),
        ({"format": "aui/v0", "content": USER, "id": ""}, "id"),
        ({"format": "aui/v0", "content": USER, "parent_id": 5}, "parent_id"),
        ({"format": "aui/v0", "content": USER, "status": "exploded"}, "status"),
        ({"format": "aui/v0", "content": USER, "role": "user"}, "role"),
        ({"format": "aui/v0", "content": {"text": "nul \x00"}}, "content"),
    ],
)
def test_invalid_append_bodies_are_400_naming_the_field(alice, thread, body, field):
    response = alice.post(messages_path(thread), body)
    assert response.status_code == 400
    assert field in response.json()["message"]
    assert Message.unscoped_for_operators.count() == 0


def test_oversize_content_is_400(alice, thread, settings):
    settings.THREADS = {**settings.THREADS, "MAX_CONTENT_BYTES": 1000}
    response = alice.post(messages_path(thread), {"format": "aui/v0", "content": {"text": "x" * 2000}})
    assert response.status_code == 400
    assert "MAX_CONTENT_BYTES" in response.json()["message"]
    assert Message.unscoped_for_operators.count() == 0


def test_content_at_the_limit_is_accepted(alice, thread, settings):
    content = {"text": "x" * 100}
    settings.THREADS = {**settings.THREADS, "MAX_CONTENT_BYTES": len(json.dumps(content, separators=(",", ":")))}
    assert alice.post(messages_path(thread), {"format": "aui/v0", "content": content}).status_code == 201


def test_a_body_over_max_body_bytes_is_413(alice, thread, settings):
    settings.THREADS = {**settings.THREADS, "MAX_BODY_BYTES": 2000, "MAX_CONTENT_BYTES": 1000}
    response = alice.post(messages_path(thread), {"format": "aui/v0", "content": {"text": "x" * 5000}})
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


def test_deeply_nested_json_is_400_not_500(alice, thread):
    body = '{"format": "aui/v0", "content": {"x": ' + "[" * 100_000 + "]" * 100_000 + "}}"
    response = alice.client.post(messages_path(thread), body, content_type="application/json")
    assert response.status_code == 400


def test_patch_replaces_content_and_status(alice, thread):
    message = alice.append(thread["id"], ASSISTANT, status="in_progress")
    path = f"{messages_path(thread)}/{message['id']}"
    response = alice.patch(path, {"content": {"role": "assistant", "content": []}, "status": "complete"})
    assert response.status_code == 200
    assert response.json()["status"] == "complete"
    assert response.json()["content"] == {"role": "assistant", "content": []}
    assert alice.get(path).json() == response.json()


def test_patch_with_unknown_fields_is_400(alice, thread):
    message = alice.append(thread["id"], USER)
    response = alice.patch(f"{messages_path(thread)}/{message['id']}", {"height": 7})
    assert response.status_code == 400
    assert "height" in response.json()["message"]


def test_patch_moves_a_message_and_its_subtree(alice, thread):
    alice.append(thread["id"], USER, id="a")
    alice.append(thread["id"], ASSISTANT, id="b", parent_id="a")
    alice.append(thread["id"], USER, id="c", parent_id="b")
    alice.append(thread["id"], USER, id="x")
    response = alice.patch(f"{messages_path(thread)}/b", {"parent_id": None})
    assert response.status_code == 200
    rows = {r["id"]: r for r in alice.get(messages_path(thread)).json()["messages"]}
    assert (rows["b"]["parent_id"], rows["b"]["height"]) == (None, 0)
    assert rows["c"]["height"] == 1
    alice.patch(f"{messages_path(thread)}/b", {"parent_id": "x"})
    rows = {r["id"]: r for r in alice.get(messages_path(thread)).json()["messages"]}
    assert (rows["b"]["height"], rows["c"]["height"]) == (1, 2)


def test_patch_that_would_make_a_cycle_is_400(alice, thread):
    alice.append(thread["id"], USER, id="a")
    alice.append(thread["id"], ASSISTANT, id="b", parent_id="a")
    alice.append(thread["id"], USER, id="c", parent_id="b")
    response = alice.patch(f"{messages_path(thread)}/a", {"parent_id": "c"})
    assert response.status_code == 400
    assert "cycle" in response.json()["message"]
    assert Message.unscoped_for_operators.get(thread_id=thread["id"], message_id="a").parent_id is None


def test_a_message_cannot_be_its_own_parent(alice, thread):
    alice.append(thread["id"], USER, id="a")
    response = alice.patch(f"{messages_path(thread)}/a", {"parent_id": "a"})
    assert response.status_code == 400
    assert "cycle" in response.json()["message"]


def test_another_workspaces_messages_are_404_with_the_missing_body(alice, bob, thread):
    message = alice.append(thread["id"], USER)
    own = bob.new_thread()
    for path in (
        messages_path(thread),
        f"{messages_path(thread)}/{message['id']}",
    ):
        assert bob.get(path).json() == {"error": "not_found", "message": "Thread not found."}
    assert bob.post(messages_path(thread), {"format": "aui/v0", "content": USER}).status_code == 404
    assert bob.patch(f"{messages_path(thread)}/{message['id']}", {"status": "stopped"}).status_code == 404
    missing = bob.get(f"{messages_path(own)}/nope")
    assert missing.status_code == 404
    assert missing.json() == {"error": "not_found", "message": "Message not found."}
    assert bob.get(f"{messages_path(own)}/{message['id']}").json() == missing.json()
    assert Message.unscoped_for_operators.get(thread_id=thread["id"]).status == "complete"
