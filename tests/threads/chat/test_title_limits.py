"""`POST /api/threads/{id}/title` calls the model, so it has a budget per user (429 before any model call)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from chatauth.caller import Workspace
from tests.support.openai_server import Reply
from threads import services
from threads.chat.turns import FORMAT

pytestmark = pytest.mark.django_db(transaction=True)


def test_title_requests_over_the_budget_are_429_and_never_reach_the_model(
    chat_on: Any, live_server_url: str, make_token: Any, settings: Any
) -> None:
    settings.CHAT = {**settings.CHAT, "TITLE_RATE_LIMIT_REQUESTS": 2}
    thread = services.thread_create(workspace=Workspace("user_titles"), thread_id="thread_tl")
    services.message_append(
        thread=thread, format=FORMAT, content={"role": "user", "parts": [{"type": "text", "text": "Tides?"}]}
    )
    for _ in range(4):
        chat_on.script(Reply(deltas=["Tides"]))
    headers = {"Authorization": f"Bearer {make_token('user_titles')}"}
    responses = [
        httpx.post(f"{live_server_url}/api/threads/thread_tl/title", headers=headers, timeout=30) for _ in range(4)
    ]
    assert [r.status_code for r in responses] == [200, 200, 429, 429]
    assert responses[2].json()["error"] == "rate_limited" and int(responses[2].headers["Retry-After"]) >= 1
    assert len(chat_on.requests) == 2


def test_the_title_budget_is_also_per_client_address(
    chat_on: Any, live_server_url: str, make_token: Any, settings: Any
):
    """Many identities from one address share one budget: a second user from the same address is refused too."""
    settings.CHAT = {**settings.CHAT, "TITLE_RATE_LIMIT_REQUESTS": 2}
    for user in ("user_one", "user_two"):
        thread = services.thread_create(workspace=Workspace(user), thread_id=f"thread_{user}")
        services.message_append(
            thread=thread, format=FORMAT, content={"role": "user", "parts": [{"type": "text", "text": "Hi"}]}
        )
    for _ in range(3):
        chat_on.script(Reply(deltas=["Hi"]))

    def title(user: str) -> int:
        headers = {"Authorization": f"Bearer {make_token(user)}"}
        return httpx.post(f"{live_server_url}/api/threads/thread_{user}/title", headers=headers, timeout=30).status_code

    assert [title("user_one"), title("user_one"), title("user_two")] == [200, 200, 429]
    assert len(chat_on.requests) == 2


@pytest.mark.parametrize("text", ["nul\x00byte", "lone \ud800 surrogate"])
def test_unstorable_text_in_a_chat_body_is_400_and_never_reaches_the_model(chat_on: Any, post_chat: Any, text: str):
    from tests.support.chat import chat_body, user_message

    response = post_chat(json.dumps(chat_body("thread_unstorable", user_message(text))).encode())
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    assert "NUL" in response.json()["message"]
    assert chat_on.requests == []
