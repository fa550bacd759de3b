"""The thread endpoints: CRUD, archive filters, validation and workspace isolation."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from threads.models import Message, Thread

pytestmark = pytest.mark.django_db

THREAD_KEYS = {"id", "title", "is_archived", "metadata", "external_id", "created_at", "updated_at", "last_message_at"}


def test_create_returns_201_with_the_thread_row(alice):
    response = alice.post("/api/threads", {"title": "Plans", "metadata": {"pinned": True}, "external_id": "local-1"})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == THREAD_KEYS
    assert body["title"] == "Plans"
    assert body["metadata"] == {"pinned": True}
    assert body["external_id"] == "local-1"
    assert body["is_archived"] is False


def test_create_with_empty_body_makes_an_untitled_thread(alice):
    body = alice.new_thread()
    assert body["title"] is None
    assert body["metadata"] == {}
    assert body["external_id"] is None


def test_thread_ids_are_opaque_and_unguessable(alice):
    ids = {alice.new_thread()["id"] for _ in range(3)}
    assert len(ids) == 3
    assert all(i.startswith("thr_") and len(i) >= 20 for i in ids)


def test_get_returns_the_thread(alice):
    created = alice.new_thread(title="x")
    response = alice.get(f"/api/threads/{created['id']}")
    assert response.status_code == 200
    assert response.json() == created


def test_patch_renames(alice):
    thread = alice.new_thread(title="old")
    response = alice.patch(f"/api/threads/{thread['id']}", {"title": "new"})
    assert response.status_code == 200
    assert response.json()["title"] == "new"
    assert alice.get(f"/api/threads/{thread['id']}").json()["title"] == "new"


def test_patch_archives_and_unarchives(alice):
    thread = alice.new_thread()
    assert alice.patch(f"/api/threads/{thread['id']}", {"is_archived": True}).json()["is_archived"] is True
    assert alice.patch(f"/api/threads/{thread['id']}", {"is_archived": False}).json()["is_archived"] is False


def test_patch_replaces_metadata_and_null_clears_it(alice):
    thread = alice.new_thread(metadata={"a": 1})
    assert alice.patch(f"/api/threads/{thread['id']}", {"metadata": {"b": 2}}).json()["metadata"] == {"b": 2}
    assert alice.patch(f"/api/threads/{thread['id']}", {"metadata": None}).json()["metadata"] == {}


def test_patch_with_empty_body_changes_nothing(alice):
    thread = alice.new_thread(title="t")
    response = alice.patch(f"/api/threads/{thread['id']}", {})
    assert response.status_code == 200
    assert response.json()["title"] == "t"


def test_delete_removes_the_thread_and_its_messages(alice):
    thread = alice.new_thread()
    root = alice.append(thread["id"])
    alice.append(thread["id"], {"role": "assistant", "content": []}, parent_id=root["id"])
    assert alice.delete(f"/api/threads/{thread['id']}").status_code == 204
    assert alice.get(f"/api/threads/{thread['id']}").status_code == 404
    assert not Thread.unscoped_for_operators.filter(pk=thread["id"]).exists()
    assert not Message.unscoped_for_operators.filter(thread_id=thread["id"]).exists()


def test_list_shows_active_threads_by_default(alice):
    active = alice.new_thread(title="active")
    archived = alice.new_thread(title="archived")
    alice.patch(f"/api/threads/{archived['id']}", {"is_archived": True})
    ids = [t["id"] for t in alice.get("/api/threads").json()["threads"]]
    assert ids == [active["id"]]


def test_list_archived_true_shows_only_archived_threads(alice):
    alice.new_thread(title="active")
    archived = alice.new_thread(title="archived")
    alice.patch(f"/api/threads/{archived['id']}", {"is_archived": True})
    ids = [t["id"] for t in alice.get("/api/threads", archived="true").json()["threads"]]
    assert ids == [archived["id"]]


def test_list_archived_all_shows_both(alice):
    a = alice.new_thread()
    b = alice.new_thread()
    alice.patch(f"/api/threads/{b['id']}", {"is_archived": True})
    ids = {t["id"] for t in alice.get("/api/threads", archived="all").json()["threads"]}
    assert ids == {a["id"], b["id"]}


def test_list_archived_with_another_value_is_400(alice):
    response = alice.get("/api/threads", archived="maybe")
    assert response.status_code == 400
    assert "archived" in response.json()["message"]


def test_list_is_newest_activity_first(alice):
    first = alice.new_thread(title="first")
    second = alice.new_thread(title="second")
    alice.append(first["id"])  # a user message moves `first` to the top
    ids = [t["id"] for t in alice.get("/api/threads").json()["threads"]]
    assert ids == [first["id"], second["id"]]


def test_unknown_fields_are_400_naming_them(alice):
    response = alice.post("/api/threads", {"title": "x", "owner": "user_bob", "workspace_key": "user_bob"})
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_request"
    assert "owner" in body["message"] and "workspace_key" in body["message"]
    assert Thread.unscoped_for_operators.count() == 0


def test_unknown_fields_in_patch_are_400(alice):
    thread = alice.new_thread()
    response = alice.patch(f"/api/threads/{thread['id']}", {"user_id": "user_bob"})
    assert response.status_code == 400
    assert "user_id" in response.json()["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": 12}, "title"),
        ({"title": ["x"]}, "title"),
        ({"metadata": "text"}, "metadata"),
        ({"metadata": [1, 2]}, "metadata"),
        ({"external_id": 7}, "external_id"),
        ({"title": "x" * 501}, "title"),
        ({"title": "nul\x00byte"}, "title"),
    ],
)
def test_wrong_types_on_create_are_400_naming_the_field(alice, body, field):
    response = alice.post("/api/threads", body)
    assert response.status_code == 400
    assert field in response.json()["message"]
    assert Thread.unscoped_for_operators.count() == 0


@pytest.mark.parametrize("value", ["true", 1, 0, None, "yes"])
def test_is_archived_must_be_a_json_boolean(alice, value):
    thread = alice.new_thread()
    response = alice.patch(f"/api/threads/{thread['id']}", {"is_archived": value})
    assert response.status_code == 400
    assert "is_archived" in response.json()["message"]


def test_body_that_is_not_an_object_is_400(alice):
    response = alice.post("/api/threads", ["title"])
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_malformed_json_is_400(alice):
    response = alice.client.post("/api/threads", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_json"


def test_nan_in_json_is_400(alice):
    response = alice.client.post("/api/threads", '{"metadata": {"x": NaN}}', content_type="application/json")
    assert response.status_code == 400


def test_oversize_metadata_is_400(alice, settings):
    settings.THREADS = {**settings.THREADS, "MAX_METADATA_BYTES": 100}
    response = alice.post("/api/threads", {"metadata": {"blob": "x" * 200}})
    assert response.status_code == 400
    assert "MAX_METADATA_BYTES" in response.json()["message"]


def test_external_id_taken_in_the_same_workspace_is_409(alice):
    alice.new_thread(external_id="ext-1")
    response = alice.post("/api/threads", {"external_id": "ext-1"})
    assert response.status_code == 409
    assert response.json()["error"] == "conflict"


def test_the_same_external_id_is_free_in_another_workspace(alice, bob, api_for):
    alice.new_thread(external_id="ext-1")
    assert bob.post("/api/threads", {"external_id": "ext-1"}).status_code == 201
    assert api_for("user_alice", org="org_acme").post("/api/threads", {"external_id": "ext-1"}).status_code == 201


def test_signed_out_calls_are_401_on_every_endpoint(alice):
    thread = alice.new_thread()
    message = alice.append(thread["id"])
    anonymous = APIClient()
    calls = [
        ("get", "/api/threads"),
        ("post", "/api/threads"),
        ("get", f"/api/threads/{thread['id']}"),
        ("patch", f"/api/threads/{thread['id']}"),
        ("delete", f"/api/threads/{thread['id']}"),
        ("get", f"/api/threads/{thread['id']}/messages"),
        ("post", f"/api/threads/{thread['id']}/messages"),
        ("get", f"/api/threads/{thread['id']}/messages/{message['id']}"),
        ("patch", f"/api/threads/{thread['id']}/messages/{message['id']}"),
    ]
    for method, path in calls:
        response = getattr(anonymous, method)(path, {}, format="json")
        assert response.status_code == 401, (method, path)
        assert response.json()["error"] == "unauthorized"
    assert Thread.unscoped_for_operators.filter(pk=thread["id"]).exists()


def test_a_bad_token_is_401(alice):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer not-a-jwt")
    response = client.get("/api/threads")
    assert response.status_code == 401


def test_another_workspaces_thread_is_404_with_the_missing_body(alice, bob):
    thread = alice.new_thread(title="secret")
    missing = bob.get("/api/threads/thr_doesnotexist")
    foreign = bob.get(f"/api/threads/{thread['id']}")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json() == {"error": "not_found", "message": "Thread not found."}


def test_another_workspace_cannot_patch_or_delete(alice, bob):
    thread = alice.new_thread(title="mine")
    assert bob.patch(f"/api/threads/{thread['id']}", {"title": "stolen"}).status_code == 404
    assert bob.delete(f"/api/threads/{thread['id']}").status_code == 404
    assert alice.get(f"/api/threads/{thread['id']}").json()["title"] == "mine"


def test_personal_and_organization_workspaces_of_one_user_are_separate(api_for):
    personal = api_for("user_alice")
    in_org = api_for("user_alice", org="org_acme")
    thread = personal.new_thread()
    assert in_org.get(f"/api/threads/{thread['id']}").status_code == 404
    assert in_org.get("/api/threads").json()["threads"] == []


def test_members_of_one_organization_do_not_see_each_others_threads(api_for):
    alice = api_for("user_alice", org="org_acme")
    bob = api_for("user_bob", org="org_acme")
    thread = alice.new_thread()
    assert bob.get(f"/api/threads/{thread['id']}").status_code == 404
    assert bob.get("/api/threads").json()["threads"] == []


def test_an_overlong_thread_id_is_404(alice):
    assert alice.get("/api/threads/" + "x" * 500).status_code == 404
