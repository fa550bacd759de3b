"""Property: no operation on any endpoint observes or changes another workspace's data.

Hypothesis drives random operations by many callers (the same user personal and in organizations,
other members of the same organization, other organizations) against every threads endpoint,
aiming half of them at other workspaces' ids. A shadow model, built only from what each caller
was told, predicts every status; after every operation the rows of every other workspace must be
byte-for-byte unchanged, and every id in a response must belong to the caller.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from threads.models import Message, Thread

pytestmark = pytest.mark.django_db

CALLERS = [
    ("user_ann", None),
    ("user_ann", "org_red"),
    ("user_ann", "org_blue"),
    ("user_ben", "org_red"),
    ("user_ben", None),
    ("user_cat", "org_blue"),
]
THREAD_NOT_FOUND = {"error": "not_found", "message": "Thread not found."}
MESSAGE_NOT_FOUND = {"error": "not_found", "message": "Message not found."}
OPS = [
    "list",
    "create",
    "create",
    "append",
    "get",
    "patch",
    "delete",
    "messages",
    "append",
    "get_message",
    "patch_message",
]
MESSAGE_IDS = ["m1", "m2", "m3", "m4", "m5", "m6"]
EXTERNAL_IDS = [None, "ext-1", "ext-2"]


def ws_key(caller: tuple[str, str | None]) -> str:
    user, org = caller
    return f"{org}:{user}" if org else user


def others_snapshot(key: str) -> tuple:
    """Everything stored for workspaces other than `key`, in a comparable form."""
    threads = tuple(
        Thread.unscoped_for_operators.exclude(workspace_key=key)
        .order_by("id")
        .values_list(
            "id", "workspace_key", "title", "is_archived", "metadata", "external_id", "last_message_at", "updated_at"
        )
    )
    messages = tuple(
        Message.unscoped_for_operators.exclude(thread__workspace_key=key)
        .order_by("thread_id", "message_id")
        .values_list(
            "thread_id", "message_id", "parent__message_id", "height", "format", "content", "status", "updated_at"
        )
    )
    return threads, messages


class Shadow:
    """What the callers were told: thread owners, archive flags, external ids and message trees."""

    def __init__(self) -> None:
        self.threads: dict[str, dict[str, Any]] = {}

    def owned(self, key: str, thread_id: str) -> bool:
        return thread_id in self.threads and self.threads[thread_id]["ws"] == key

    def all_message_ids(self) -> list[str]:
        """Every message id of every workspace, in a deterministic order."""
        return sorted({m for t in self.threads.values() for m in t["messages"]})

    def ancestors(self, thread_id: str, message_id: str | None) -> set[str]:
        tree = self.threads[thread_id]["messages"]
        seen: set[str] = set()
        while message_id is not None:
            seen.add(message_id)
            message_id = tree[message_id]
        return seen


@pytest.fixture
def clients(client_for):
    return {caller: client_for(*caller) for caller in CALLERS}


@settings(
    max_examples=75,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_no_operation_crosses_workspaces(clients, data):
    with transaction.atomic():
        run_operations(clients, data)
        transaction.set_rollback(True)


def seed(clients: dict, shadow: Shadow) -> None:
    """Every workspace starts with a thread holding one message whose id no other thread uses."""
    for n, (caller, client) in enumerate(clients.items()):
        thread_id = client.post("/api/threads", {}, format="json").json()["id"]
        message_id = f"seed{n}"
        body = {"id": message_id, "format": "aui/v0", "content": {"role": "user", "content": []}}
        assert client.post(f"/api/threads/{thread_id}/messages", body, format="json").status_code == 201
        shadow.threads[thread_id] = {
            "ws": ws_key(caller),
            "archived": False,
            "external_id": None,
            "messages": {message_id: None},
        }


def run_operations(clients: dict, data: st.DataObject) -> None:
    shadow = Shadow()
    seed(clients, shadow)
    for _ in range(data.draw(st.integers(min_value=5, max_value=25), label="steps")):
        caller = data.draw(st.sampled_from(CALLERS), label="caller")
        op = data.draw(st.sampled_from(OPS), label="op")
        key = ws_key(caller)
        before = others_snapshot(key)
        step(clients[caller], key, op, shadow, data)
        assert others_snapshot(key) == before, f"{op} by {key} changed another workspace's data"


def pick_thread(shadow: Shadow, key: str, data: st.DataObject) -> str:
    """Half the time one of the caller's own threads, else another workspace's or a missing id."""
    # Creation order, not sorted ids: ids are random, and draws must not depend on them.
    own = [t for t in shadow.threads if shadow.owned(key, t)]
    foreign = [t for t in shadow.threads if not shadow.owned(key, t)]
    aim = data.draw(st.sampled_from(["own", "own", "foreign", "missing"]), label="aim")
    pool = {"own": own, "foreign": foreign}.get(aim) or ["thr_never_existed"]
    return data.draw(st.sampled_from(pool), label="thread")


def assert_thread_row_is_callers(shadow: Shadow, key: str, row: dict) -> None:
    assert shadow.owned(key, row["id"]), f"{key} saw thread {row['id']} of another workspace"


def step(client, key: str, op: str, shadow: Shadow, data: st.DataObject) -> None:
    if op == "list":
        archived = data.draw(st.sampled_from(["false", "true", "all"]), label="archived")
        limit = data.draw(st.integers(min_value=1, max_value=4), label="limit")
        seen: list[str] = []
        params = {"archived": archived, "limit": limit}
        while True:
            body = client.get("/api/threads", params).json()
            for row in body["threads"]:
                assert_thread_row_is_callers(shadow, key, row)
            seen += [row["id"] for row in body["threads"]]
            if body["next_cursor"] is None:
                break
            params["cursor"] = body["next_cursor"]
        expected = {
            tid
            for tid, t in shadow.threads.items()
            if t["ws"] == key and (archived == "all" or t["archived"] == (archived == "true"))
        }
        assert sorted(seen) == sorted(expected)
        return

    if op == "create":
        external_id = data.draw(st.sampled_from(EXTERNAL_IDS), label="external_id")
        response = client.post("/api/threads", {"title": "t", "external_id": external_id}, format="json")
        taken = external_id is not None and any(
            t["ws"] == key and t["external_id"] == external_id for t in shadow.threads.values()
        )
        if taken:
            assert response.status_code == 409
            return
        assert response.status_code == 201
        thread_id = response.json()["id"]
        assert thread_id not in shadow.threads
        shadow.threads[thread_id] = {"ws": key, "archived": False, "external_id": external_id, "messages": {}}
        return

    thread_id = pick_thread(shadow, key, data)
    path = f"/api/threads/{thread_id}"
    owned = shadow.owned(key, thread_id)

    if op == "get":
        response = client.get(path)
    elif op == "patch":
        archived = data.draw(st.booleans(), label="is_archived")
        response = client.patch(path, {"is_archived": archived, "title": "renamed"}, format="json")
        if owned and response.status_code == 200:
            shadow.threads[thread_id]["archived"] = archived
    elif op == "delete":
        response = client.delete(path)
        if owned:
            assert response.status_code == 204
            del shadow.threads[thread_id]
            return
    elif op == "messages":
        response = client.get(f"{path}/messages")
        if owned:
            ids = {row["id"] for row in response.json()["messages"]}
            assert ids == set(shadow.threads[thread_id]["messages"])
    elif op == "append":
        response = append(client, path, key, thread_id, owned, shadow, data)
        if response is None:
            return
    else:
        response = message_op(client, path, op, thread_id, owned, shadow, data)
        if response is None:
            return

    if not owned:
        assert response.status_code == 404, (op, response.status_code)
        assert response.json() == THREAD_NOT_FOUND
        return
    assert response.status_code in (200, 201), (op, response.status_code, response.content)
    if op in ("get", "patch"):
        assert_thread_row_is_callers(shadow, key, response.json())


def append(client, path, key, thread_id, owned, shadow: Shadow, data: st.DataObject):
    message_id = data.draw(st.sampled_from(MESSAGE_IDS), label="message_id")
    # Parents from any thread of any workspace, or none.
    every = shadow.all_message_ids()
    parent_id = data.draw(st.sampled_from([None, *every, "m_never"]), label="parent_id")
    body = {"id": message_id, "format": "aui/v0", "content": {"role": "user", "content": []}, "parent_id": parent_id}
    response = client.post(f"{path}/messages", body, format="json")
    if not owned:
        return response
    tree = shadow.threads[thread_id]["messages"]
    if message_id in tree:
        assert response.status_code == 200
        assert response.json()["parent_id"] == tree[message_id]
    elif parent_id is None or parent_id in tree:
        assert response.status_code == 201
        tree[message_id] = parent_id
    else:
        event("append: foreign parent" if parent_id in every else "append: unknown parent")
        assert response.status_code == 400
        assert response.json()["message"] == (f"parent_id: parent_id {parent_id!r} is not a message of this thread"), (
            "a foreign parent must answer exactly like an unknown one"
        )
    return None


def message_op(client, path, op, thread_id, owned, shadow: Shadow, data: st.DataObject):
    message_id = data.draw(st.sampled_from([*MESSAGE_IDS, "seed0", "seed1"]), label="target_message")
    target = f"{path}/messages/{message_id}"
    if op == "get_message":
        response = client.get(target)
    else:
        every = shadow.all_message_ids()
        parent_id = data.draw(st.sampled_from(["(keep)", None, *every]), label="new_parent")
        body: dict[str, Any] = {"status": "stopped"}
        if parent_id != "(keep)":
            body["parent_id"] = parent_id
        response = client.patch(target, body, format="json")
    if not owned:
        return response
    tree = shadow.threads[thread_id]["messages"]
    if message_id not in tree:
        assert response.status_code == 404
        assert response.json() == MESSAGE_NOT_FOUND
        return None
    if op == "patch_message" and parent_id not in ("(keep)", None):
        if parent_id not in tree:
            assert response.status_code == 400
            return None
        if message_id in shadow.ancestors(thread_id, parent_id):
            assert response.status_code == 400
            assert "cycle" in response.json()["message"]
            return None
    assert response.status_code == 200, response.content
    assert response.json()["id"] == message_id
    if op == "patch_message" and parent_id != "(keep)":
        tree[message_id] = parent_id
    return None
