"""Chat data for the operator tools' tests (commands, export, webhooks): threads in several workspaces."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.utils import timezone

from chatauth.caller import Workspace
from threads.models import Message, MessageFeedback, RunReport, Thread


@dataclass
class World:
    alice_personal: Thread
    alice_acme: Thread
    alice_globex: Thread
    bob_acme: Thread
    bob_personal: Thread


def make_thread(user: str, org: str | None = None, *, title: str = "t", messages: int = 3, **fields) -> Thread:
    """A thread with a branching message tree, feedback on the first reply and one run report."""
    ws = Workspace(user_id=user, org_id=org)
    thread = Thread.unscoped_for_operators.create(
        workspace_key=ws.key, user_id=user, org_id=org, title=title, metadata={"k": [1, "ü"]}, **fields
    )
    parent = None
    created = []
    for i in range(messages):
        parent = Message.unscoped_for_operators.create(
            thread=thread,
            message_id=f"msg_{thread.id[-6:]}_{i}",
            parent=parent,
            height=i,
            format="aui/v0",
            role="user" if i % 2 == 0 else "assistant",
            content={"parts": [{"type": "text", "text": f"hello {i} ✓"}]},
            status="complete",
        )
        created.append(parent)
    if len(created) >= 2:
        # A sibling branch: an edit of the second message.
        Message.unscoped_for_operators.create(
            thread=thread,
            message_id=f"msg_{thread.id[-6:]}_edit",
            parent=created[0],
            height=1,
            format="aui/v0",
            role="assistant",
            content={"parts": []},
            status="incomplete",
        )
        # One feedback per (message, user): two users rated this reply.
        MessageFeedback.unscoped_for_operators.create(message=created[1], user_id=user, type="positive", comment="nice")
        MessageFeedback.unscoped_for_operators.create(
            message=created[1], user_id="user_reviewer", type="negative", comment=None
        )
    RunReport.unscoped_for_operators.create(
        id=f"run_{thread.id[-8:]}", thread=thread, status="complete", model_id="m", input_tokens=3, payload={"a": 1}
    )
    # Distinct, old timestamps so a round trip that reset them to "now" would show.
    old = timezone.now() - timedelta(days=40)
    Thread.unscoped_for_operators.filter(pk=thread.pk).update(created_at=old, updated_at=old, last_message_at=old)
    thread.refresh_from_db()
    return thread


@pytest.fixture
def world(db) -> World:
    return World(
        alice_personal=make_thread("user_alice", title="alice personal"),
        alice_acme=make_thread("user_alice", "org_acme", title="alice acme"),
        alice_globex=make_thread("user_alice", "org_globex", title="alice globex"),
        bob_acme=make_thread("user_bob", "org_acme", title="bob acme"),
        bob_personal=make_thread("user_bob", title="bob personal"),
    )


def thread_ids(**filters) -> set[str]:
    return set(Thread.unscoped_for_operators.filter(**filters).values_list("id", flat=True))
