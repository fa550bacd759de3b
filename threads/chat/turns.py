"""What one chat request means, decided against the server's own record of the thread.

The AI SDK `Chat` and assistant-ui send the whole conversation (or, with `prepareSendMessagesRequest`, only
its last message). Only the last message is new information; everything before it is the client's copy of
what this service already stored, and a client can forge it. So:

- **new message**: the last message is a user message the thread does not have: stored under the message
  before it in the request when that is stored, else under the thread's head when the client sent only its last
  message (`message` instead of `messages`, as the AI SDK persistence guide does), else as a new root;
- **regenerate**: the same user message again: a new assistant sibling under it;
- **edit** (`ai` keeps the message id on edit): a stored user message with new content. The original is
  kept, under a fresh server id, with its replies; the edited message takes the client's id as a sibling
  under the same parent, and the new reply hangs under it;
- **tool continuation**: the last message is a stored assistant message whose frontend tool calls now
  carry outputs: the outputs are saved on its tool parts and the continuation streams into that same message.

The model's context is the stored branch that ends at the new message, never the request's copy: client
`system` messages and fabricated earlier turns never reach the model. A thread the server has never seen may
bring its history in the request (roles user and assistant only).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from threads import services
from threads.models import Message, Thread

FORMAT = "ai-sdk/v6"
MAX_CONTEXT_MESSAGES = 200
TOOL_OUTPUT_STATES = ("output-available", "output-error")


@dataclass(frozen=True)
class TurnPlan:
    """The stored outcome of a request: which message is answered, which one streams, and the model's context."""

    user_message_id: str
    assistant_message_id: str
    history: tuple[dict[str, Any], ...]  # UI messages (role, parts), oldest first, ending with the prompt
    continued_parts: tuple[dict[str, Any], ...] = ()  # the assistant message's parts before this continuation


def _content_of(message: dict[str, Any]) -> dict[str, Any]:
    content: dict[str, Any] = {"role": message["role"], "parts": message["parts"]}
    if message.get("metadata"):
        content["metadata"] = message["metadata"]
    return content


def _as_ui(message: Message) -> dict[str, Any] | None:
    """A stored message as a UI message for the model, whatever face stored it; None for other roles."""
    content = message.content if isinstance(message.content, dict) else {}
    role = content.get("role") or message.role
    if role not in ("user", "assistant"):
        return None
    parts = content.get("parts")
    if not isinstance(parts, list):  # aui/v0 and other formats: take their text
        raw = content.get("content")
        texts = [raw] if isinstance(raw, str) else [p.get("text") for p in raw or [] if isinstance(p, dict)]
        parts = [{"type": "text", "text": t} for t in texts if isinstance(t, str)]
    return {"role": role, "parts": [p for p in parts if isinstance(p, dict)]}


def stored_branch(thread: Thread, message: Message | None) -> list[dict[str, Any]]:
    """The conversation that ends at `message`, oldest first, from the stored tree (bounded)."""
    chain: list[dict[str, Any]] = []
    current = message
    while current is not None and len(chain) < MAX_CONTEXT_MESSAGES:
        ui = _as_ui(current)
        if ui is not None:
            chain.append(ui)
        current = thread.messages.filter(pk=current.parent_id).first() if current.parent_id else None
    return chain[::-1]


def _client_history(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A new thread's history as the client sent it, limited to user and assistant turns."""
    return [{"role": m["role"], "parts": m["parts"]} for m in messages if m["role"] in ("user", "assistant")]


def _known(thread: Thread, message_id: str) -> Message | None:
    return thread.messages.select_related("parent").filter(message_id=message_id).first()


def _same_parts(stored: Message, sent: dict[str, Any]) -> bool:
    content = stored.content if isinstance(stored.content, dict) else {}
    return content.get("parts") == sent["parts"]


def _with_tool_outputs(stored_parts: list[dict[str, Any]], sent_parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The stored parts with the outputs the client added to tool calls waiting for them (nothing else taken)."""
    outputs = {
        p["toolCallId"]: p
        for p in sent_parts
        if isinstance(p.get("toolCallId"), str) and p.get("state") in TOOL_OUTPUT_STATES
    }
    merged = []
    for part in stored_parts:
        sent = outputs.get(part.get("toolCallId")) if isinstance(part, dict) else None
        if sent is not None and part.get("state") == "input-available":
            part = {**part, "state": sent["state"]}
            if sent["state"] == "output-available":
                part["output"] = sent.get("output")
            else:
                part["errorText"] = str(sent.get("errorText") or "")[:2000]
        merged.append(part)
    return merged


def _continue_assistant(thread: Thread, stored: Message, sent: dict[str, Any]) -> TurnPlan:
    content = stored.content if isinstance(stored.content, dict) else {}
    parts = _with_tool_outputs(list(content.get("parts") or []), sent["parts"])
    services.message_update(message=stored, content={**content, "parts": parts}, status="in_progress")
    history = stored_branch(thread, stored)
    return TurnPlan(
        user_message_id=stored.parent_message_id or "",
        assistant_message_id=stored.message_id,
        history=tuple(history),
        continued_parts=tuple(parts),
    )


def _edit(thread: Thread, stored: Message, sent: dict[str, Any]) -> Message:
    """Keep the original (and its replies) under a fresh id; store the edit under the client's id beside it."""
    parent_id = stored.parent_message_id
    stored.message_id = Message.new_id()
    stored.save(update_fields=["message_id", "updated_at"])
    edited, _ = services.message_append(
        thread=thread, format=FORMAT, content=_content_of(sent), parent_id=parent_id, message_id=sent["id"]
    )
    return edited


def _not_continuable(message_id: str) -> services.InvalidParent:
    return services.InvalidParent(
        "messages[-1] must be a new user message, or an assistant message of this thread whose tool "
        f"calls now have outputs ({message_id!r} is not)"
    )


def _first_turn(thread: Thread, messages: list[dict[str, Any]], assistant_id: str) -> TurnPlan:
    """A thread created for this request: nothing stored to look up; its history is the client's (see above)."""
    last = messages[-1]
    if last["role"] == "assistant":
        raise _not_continuable(last["id"])
    services.message_append_first_turn(
        thread=thread,
        format=FORMAT,
        user_content=_content_of(last),
        user_message_id=last["id"],
        assistant_message_id=assistant_id,
    )
    history = [*_client_history(messages[:-1]), _content_of(last)]
    return TurnPlan(user_message_id=last["id"], assistant_message_id=assistant_id, history=tuple(history))


def plan_turn(
    *,
    thread: Thread,
    messages: list[dict[str, Any]],
    assistant_id: str,
    continue_head: bool = False,
    new_thread: bool = False,
) -> TurnPlan:
    """Store what the request adds (inside the caller's transaction) and say what streams next.
    `new_thread`: the thread was created in this transaction (it has no message yet)."""
    if new_thread:
        return _first_turn(thread, messages, assistant_id)
    last = messages[-1]
    stored = _known(thread, last["id"])
    if last["role"] == "assistant":
        if stored is None or stored.role != "assistant":
            raise _not_continuable(last["id"])
        return _continue_assistant(thread, stored, last)
    is_new_thread = not thread.messages.exclude(message_id=last["id"]).exists()
    if stored is None:
        known = {m.message_id: m for m in thread.messages.filter(message_id__in=[m["id"] for m in messages[:-1]])}
        parent = next((known[m["id"]] for m in reversed(messages[:-1]) if m["id"] in known), None)
        if parent is None and continue_head and not is_new_thread:
            # Only the new message was sent (`message`, as the AI SDK persistence guide does): it continues the
            # thread's head. A `messages` list that names no stored message starts a new root (an edit of the first).
            parent = services.message_head(thread=thread)
        user, _ = services.message_append(
            thread=thread,
            format=FORMAT,
            content=_content_of(last),
            parent_id=parent.message_id if parent else None,
            message_id=last["id"],
        )
    elif _same_parts(stored, last):
        user = stored  # a regeneration, or a retry of the same message: answered again, as a sibling reply
    else:
        user = _edit(thread, stored, last)
    services.message_append(
        thread=thread,
        format=FORMAT,
        content={"role": "assistant", "parts": []},
        parent_id=user.message_id,
        message_id=assistant_id,
        status="in_progress",
    )
    if is_new_thread:
        history = [*_client_history(messages[:-1]), _content_of(last)]
    else:
        history = stored_branch(thread, user)
    return TurnPlan(user_message_id=user.message_id, assistant_message_id=assistant_id, history=tuple(history))
