"""The Django admin for threads: staff browse every workspace; Clerk callers never get in."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from chatauth.caller import Workspace
from chatauth.clerk.users import get_or_create_clerk_user
from tests.support.admin import change_url
from threads import services
from threads.models import Message, MessageFeedback, RunReport, Thread

pytestmark = pytest.mark.django_db

ALICE = Workspace(user_id="user_alice")
ALICE_IN_ACME = Workspace(user_id="user_alice", org_id="org_acme")
BOB_IN_GLOBEX = Workspace(user_id="user_bob", org_id="org_globex")
CHANGELIST = "/admin/threads/thread/"


@pytest.fixture
def staff() -> Client:
    user = get_user_model().objects.create_superuser("operator", "op@example.test", "pw-not-used")
    client = Client()
    client.force_login(user)
    return client


def _thread(workspace: Workspace, title: str, messages: int = 0, **kwargs: Any) -> Thread:
    thread = services.thread_create(workspace=workspace, title=title, **kwargs)
    parent = None
    for i in range(messages):
        parent, _ = services.message_append(
            thread=thread,
            format="aui/v0",
            content={"role": "user" if i % 2 == 0 else "assistant", "content": [{"type": "text", "text": f"m{i}"}]},
            parent_id=parent.message_id if parent else None,
        )
    return thread


def _row_of(html: str, thread: Thread) -> str:
    match = re.search(r"<tr[^>]*>(?:(?!</tr>).)*" + re.escape(thread.id) + r"(?:(?!</tr>).)*</tr>", html, re.S)
    assert match, f"no changelist row for {thread.id}"
    return match.group(0)


def test_staff_sees_every_workspaces_threads_with_message_counts(staff):
    mine = _thread(ALICE, "Alice personal", messages=3)
    theirs = _thread(BOB_IN_GLOBEX, "Bob at Globex", messages=1)
    html = staff.get(CHANGELIST).content.decode()
    assert "Alice personal" in html and "Bob at Globex" in html
    assert 'class="field-message_count">3<' in _row_of(html, mine)
    assert 'class="field-message_count">1<' in _row_of(html, theirs)
    assert "user_alice" in _row_of(html, mine)


def test_changelist_filters_by_organization(staff):
    _thread(ALICE_IN_ACME, "Acme plans")
    _thread(BOB_IN_GLOBEX, "Globex plans")
    html = staff.get(CHANGELIST, {"org_id": "org_acme"}).content.decode()
    assert "Acme plans" in html and "Globex plans" not in html


def test_changelist_filters_by_archived(staff):
    archived = _thread(ALICE, "Old one")
    services.thread_update(thread=archived, is_archived=True)
    _thread(ALICE, "Live one")
    html = staff.get(CHANGELIST, {"is_archived__exact": "1"}).content.decode()
    assert "Old one" in html and "Live one" not in html


@pytest.mark.parametrize("query", ["user_bob", "org_globex", "Globex"])
def test_changelist_search_by_user_org_or_title(staff, query):
    _thread(ALICE, "Alice personal")
    _thread(BOB_IN_GLOBEX, "Bob at Globex")
    html = staff.get(CHANGELIST, {"q": query}).content.decode()
    assert "Bob at Globex" in html and "Alice personal" not in html


def test_changelist_query_count_does_not_grow_with_threads(staff, django_assert_max_num_queries):
    for i in range(30):
        _thread(Workspace(user_id=f"user_{i}", org_id=f"org_{i % 3}"), f"T{i}", messages=2)
    with django_assert_max_num_queries(12):
        response = staff.get(CHANGELIST)
    assert response.status_code == 200


def test_change_page_shows_messages_in_tree_order_indented_by_height(staff):
    thread = services.thread_create(workspace=ALICE, title="Branchy")

    def add(mid: str, parent: str | None) -> None:
        services.message_append(
            thread=thread, format="aui/v0", content={"role": "user", "content": mid}, message_id=mid, parent_id=parent
        )

    add("root", None)
    add("a", "root")
    add("b", "root")  # a regeneration: a sibling branch of "a"
    add("a1", "a")
    add("b1", "b")
    html = staff.get(change_url(thread)).content.decode()
    order = re.findall(r'data-message-id="([^"]+)" style="margin-left:([0-9.]+)em', html)
    assert order == [("root", "0.0"), ("a", "1.5"), ("a1", "3.0"), ("b", "1.5"), ("b1", "3.0")]


def test_the_changelists_link_opens_a_thread_whose_id_looks_like_an_admin_escape(staff):
    """One id in a few hundred starts `thr_2B...`, which the admin would read as `thr+...` if it were not escaped."""
    thread = services.thread_create(workspace=ALICE, title="Escaped", thread_id="thr_2BkdiHuKEtATtPFUHdP0aA")
    changelist = staff.get(CHANGELIST).content.decode()
    assert change_url(thread) in changelist
    response = staff.get(change_url(thread))
    assert response.status_code == 200 and "Escaped" in response.content.decode()


def test_change_page_escapes_message_content(staff):
    thread = services.thread_create(workspace=ALICE, title="xss")
    services.message_append(thread=thread, format="aui/v0", content={"role": "user", "content": "<script>x()</script>"})
    html = staff.get(change_url(thread)).content.decode()
    assert "<script>x()</script>" not in html
    assert "&lt;script&gt;" in html


def test_threads_cannot_be_added_or_edited_in_the_admin(staff):
    thread = _thread(ALICE, "Keep me")
    assert staff.get(f"{CHANGELIST}add/").status_code == 403
    staff.post(change_url(thread), {"title": "changed"})
    assert Thread.unscoped_for_operators.get(pk=thread.pk).title == "Keep me"


def test_messages_run_reports_and_feedback_are_browsable(staff):
    thread = _thread(ALICE, "Reports", messages=1)
    message = Message.unscoped_for_operators.get(thread=thread)
    RunReport.unscoped_for_operators.create(id="run_1", thread=thread, status="done", model_id="gpt-test")
    MessageFeedback.unscoped_for_operators.create(message=message, type="positive")
    assert message.message_id in staff.get("/admin/threads/message/").content.decode()
    assert "gpt-test" in staff.get("/admin/threads/runreport/").content.decode()
    assert "positive" in staff.get("/admin/threads/messagefeedback/").content.decode()
    assert staff.get(change_url(RunReport.unscoped_for_operators.get(id="run_1"))).status_code == 200


def test_a_clerk_token_does_not_open_the_admin(make_token):
    _thread(ALICE, "Secret")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {make_token('user_alice')}")
    response = client.get(CHANGELIST)
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_a_clerk_linked_user_marked_staff_is_refused():
    user = get_or_create_clerk_user("user_mallory")
    user.is_staff = user.is_superuser = True
    user.save()
    client = Client()
    client.force_login(user)
    _thread(ALICE, "Secret")
    response = client.get(CHANGELIST)
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
    assert "Secret" not in client.get(CHANGELIST, follow=True).content.decode()


def _message_html(html: str, message_id: str) -> str:
    match = re.search(r'<li class="message" data-message-id="' + re.escape(message_id) + r'".*?</li>', html, re.S)
    assert match, f"no message {message_id}"
    return match.group(0)


def _change_page(staff: Client, thread: Thread) -> str:
    response = staff.get(change_url(thread))
    assert response.status_code == 200
    return response.content.decode()


def test_change_page_renders_ai_sdk_parts_readably_with_the_raw_json_behind_a_toggle(staff):
    thread = services.thread_create(workspace=ALICE, title="Parts")
    content = {
        "role": "assistant",
        "parts": [
            {"type": "step-start"},
            {"type": "reasoning", "text": "The user wants the weather.", "state": "done"},
            {
                "type": "tool-get_weather",
                "toolCallId": "call_1",
                "state": "output-available",
                "input": {"city": "Paris"},
                "output": {"temperature": 21, "unit": "C"},
            },
            {
                "type": "dynamic-tool",
                "toolName": "lookup",
                "toolCallId": "call_2",
                "state": "output-error",
                "input": {"q": "x"},
                "errorText": "lookup service unavailable",
            },
            {"type": "text", "text": "It is 21 °C in Paris.\nEnjoy.", "state": "done"},
            {"type": "file", "mediaType": "image/png", "filename": "map.png", "url": "data:image/png;base64,AAAA"},
            {"type": "source-url", "sourceId": "s1", "url": "https://example.test/weather", "title": "Weather site"},
            {"type": "data-progress", "data": {"pct": 50}},
        ],
    }
    services.message_append(thread=thread, format="ai-sdk/v6", content=content, message_id="m1")
    item = _message_html(_change_page(staff, thread), "m1")
    readable = item.split("<details", 1)[0]
    assert "<pre" in readable and "It is 21 °C in Paris.\nEnjoy." in readable
    assert "Reasoning" in readable and "The user wants the weather." in readable
    assert "Tool call <code>get_weather</code> · output-available · <code>call_1</code>" in readable
    assert "Input" in readable and "&quot;city&quot;: &quot;Paris&quot;" in readable
    assert "Output" in readable and "&quot;temperature&quot;: 21" in readable
    assert "Tool call <code>lookup</code> · output-error" in readable and "lookup service unavailable" in readable
    assert "<code>map.png</code> image/png" in readable and "inline data URL (image/png" in readable
    assert "base64,AAAA" not in readable  # file contents are summarised, never inlined
    assert "Weather site" in readable and "https://example.test/weather" in readable and "<a " not in readable
    assert "data-progress" in readable and "&quot;pct&quot;: 50" in readable
    raw = item.split("<details", 1)[1]
    assert "<summary>raw JSON</summary>" in raw and "&quot;toolCallId&quot;: &quot;call_1&quot;" in raw


def test_change_page_renders_assistant_ui_messages(staff):
    thread = services.thread_create(workspace=ALICE, title="aui")
    content = {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Looking it up."},
            {"type": "tool-call", "toolCallId": "tc", "toolName": "search", "args": {"q": "django"}, "result": [1, 2]},
            {"type": "image", "image": "https://example.test/cat.png"},
        ],
        "status": {"type": "complete", "reason": "stop"},
    }
    services.message_append(thread=thread, format="aui/v0", content=content, message_id="a1")
    readable = _message_html(_change_page(staff, thread), "a1").split("<details", 1)[0]
    assert "Looking it up." in readable
    assert "Tool call <code>search</code>" in readable and "&quot;q&quot;: &quot;django&quot;" in readable
    assert "Output" in readable and "https://example.test/cat.png" in readable


def test_change_page_escapes_every_part(staff):
    thread = services.thread_create(workspace=ALICE, title="xss parts")
    evil = "<script>alert(1)</script>"
    content = {
        "role": "user",
        "parts": [
            {"type": "text", "text": evil},
            {"type": "reasoning", "text": evil},
            {"type": f"tool-{evil}", "toolCallId": evil, "state": evil, "input": {evil: evil}, "output": evil},
            {"type": "file", "filename": evil, "mediaType": evil, "url": f"javascript:{evil}"},
            {"type": evil, "x": evil},
        ],
    }
    services.message_append(thread=thread, format="ai-sdk/v6", content=content, message_id="x1")
    html = _change_page(staff, thread)
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in _message_html(html, "x1")


def test_long_text_is_clipped_in_the_tree(staff):
    thread = services.thread_create(workspace=ALICE, title="long")
    services.message_append(
        thread=thread, format="ai-sdk/v6", content={"role": "user", "parts": [{"type": "text", "text": "y" * 5000}]}
    )
    html = _change_page(staff, thread)
    assert "y" * 2000 + "… (3000 more characters)" in html
