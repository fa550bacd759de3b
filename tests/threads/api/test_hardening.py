"""What an attacker found on /api, each refused at its root (issue: hardening)."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from chatauth.caller import Workspace
from threads import services
from threads.models import Thread

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("sub", ["org_x:user_y", "anon_AAAAAAAAAAAAAAAAAAAAAA", "", "user with spaces", "x" * 129])
def test_a_session_token_whose_subject_could_name_another_workspace_is_401(make_token, sub):
    services.thread_create(workspace=Workspace("user_y", "org_x"), title="org_x/user_y's")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_token(sub)}")
    response = client.get("/api/threads")
    assert response.status_code == 401 and response.json()["error"] == "token-invalid"
    assert "sub" in response.json()["message"]


@pytest.mark.parametrize("org", ["org:x", "anon_x", "o" * 129])
def test_a_session_token_with_an_unusable_org_id_is_401(make_token, org):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_token('user_a', org)}")
    assert client.get("/api/me").status_code == 401


def test_moving_a_message_to_the_root_with_a_null_parent_is_not_a_500(alice):
    thread = alice.new_thread()
    first = alice.append(thread["id"], id="a")
    alice.append(thread["id"], id="b", parent_id=first["id"])
    response = alice.patch(f"/api/threads/{thread['id']}/messages/b", {"parent_id": None})
    assert response.status_code == 200 and response.json()["parent_id"] is None and response.json()["height"] == 0


@pytest.mark.parametrize("suffix", ["%00", "%00/messages", "{tid}/messages/%00"])
def test_nul_in_an_url_id_is_a_404(alice, suffix):
    thread = alice.new_thread()
    response = alice.client.get("/api/threads/" + suffix.format(tid=thread["id"]))
    assert response.status_code == 404 and response.json()["error"] == "not_found"


@pytest.mark.parametrize("text", ["nul\x00byte", "lone \ud800 surrogate"])
def test_unstorable_text_is_refused_on_the_threads_api(alice, text):
    response = alice.client.post("/api/threads", json.dumps({"title": text}), content_type="application/json")
    assert response.status_code == 400
    assert Thread.objects.for_workspace(alice.workspace).count() == 0


def test_deeply_nested_json_is_refused_before_parsing(alice):
    response = alice.client.post("/api/threads", "[" * 50_000 + "]" * 50_000, content_type="application/json")
    assert response.status_code == 400 and response.json()["error"] == "invalid_json"


def test_messages_are_listed_a_bounded_page_at_a_time_with_a_cursor(alice, settings):
    settings.THREADS = {"MESSAGE_PAGE_SIZE": 2}
    thread = alice.new_thread()
    parent = None
    for i in range(5):
        parent = alice.append(thread["id"], id=f"m{i}", parent_id=parent)["id"]
    seen, cursor = [], None
    while True:
        page = alice.get(f"/api/threads/{thread['id']}/messages", **({"cursor": cursor} if cursor else {})).json()
        assert len(page["messages"]) <= 2
        seen += [m["id"] for m in page["messages"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["m0", "m1", "m2", "m3", "m4"]
    assert alice.client.get(f"/api/threads/{thread['id']}/messages", {"limit": "3"}).status_code == 400
    assert alice.client.get(f"/api/threads/{thread['id']}/messages", {"cursor": "nope"}).status_code == 400
