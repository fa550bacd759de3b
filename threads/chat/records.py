"""A chat turn's rows: written before its reply streams, saved once it has ended.

`prepare_turn` (sync, through `run_db`) resolves the thread in the caller's workspace and stores the user message
and an in-progress assistant message, in one transaction; `Turn` is what the stream gets of it, as plain values.
`save_assistant` stores how the reply ended (and a heuristic title with it), in the same trip to the database.
What a request means against the stored thread (new message, edit, regeneration, tool continuation) is
`threads.chat.turns`' business.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from chatauth.caller import Workspace
from threads import services
from threads.chat import stops
from threads.chat.attachments import turn_files
from threads.chat.request import ChatRequest
from threads.chat.turns import plan_turn
from threads.models import Message, Thread


@dataclass(frozen=True)
class Turn:
    """What the database said before streaming: the thread, the messages of this turn, the model's context.

    `thread` was fetched (or created) in the caller's workspace: the reply is saved through it (`thread.messages`),
    so the save needs no second workspace check (a join per UPDATE, the largest statement of a turn)."""

    thread: Thread
    workspace: Workspace
    user_message_id: str
    assistant_message_id: str
    needs_title: bool
    history: tuple[dict[str, Any], ...] = ()  # from the stored branch (see threads.chat.turns)
    continued_parts: tuple[dict[str, Any], ...] = ()  # a tool continuation streams into an existing reply

    @property
    def thread_id(self) -> str:
        return self.thread.id

    @property
    def prompt(self) -> str:
        """The text of the last user message of the context (what the development model and titles read)."""
        user = next((m for m in reversed(self.history) if m["role"] == "user"), None)
        return "".join(p.get("text", "") for p in (user or {}).get("parts", []) if p.get("type") == "text")


def resolve_thread(*, workspace: Workspace, request: ChatRequest, taken: bool = False) -> tuple[Thread, bool]:
    """The request's thread in the caller's workspace, and whether it was created just now (a new one under that id
    if nobody has it); `NotFound` if another workspace has it. A new chat's first message (`starts_a_chat`) claims
    the id first, one statement fewer before the model call when it is indeed new; a taken id then falls back to
    the lookup. `taken`: a claim made elsewhere (`threads.chat.loopclaim`) found the id taken: just the lookup."""
    thread_id = request.thread_id
    if taken:
        return services.thread_get(workspace=workspace, thread_id=thread_id), False
    if not starts_a_chat(request):
        try:
            return services.thread_get(workspace=workspace, thread_id=thread_id), False
        except services.NotFound:
            pass
    # Durable later: the turn's user message is committed (synchronously) before the reply is acknowledged.
    claimed = services.thread_claim(workspace=workspace, thread_id=thread_id, durable_later=True)
    if claimed is not None:
        return claimed, True
    # Taken: by another workspace (404, telling nothing more), or by this one (a second tab, an edit).
    return services.thread_get(workspace=workspace, thread_id=thread_id), False


def starts_a_chat(request: ChatRequest) -> bool:
    """The request looks like a new chat's first turn: one user message, sent as the whole conversation."""
    messages = request.messages
    return (
        request.trigger == "submit-message"
        and not request.only_last
        and len(messages) == 1
        and (messages[0]["role"] == "user")
    )


def prepare_turn(*, workspace: Workspace, request: ChatRequest) -> Turn:
    """Thread, user message and in-progress reply in one transaction (one commit)."""
    with transaction.atomic():
        thread, created = resolve_thread(workspace=workspace, request=request)
        return _append_turn(thread=thread, workspace=workspace, request=request, new_thread=created)


def append_turn(*, thread: Thread, workspace: Workspace, request: ChatRequest, **options: Any) -> Turn:
    """Store the user message (idempotent) and an in-progress assistant message under it, both or neither.
    `options`: `assistant_id`, and `new_thread` when the thread was created for this turn (it has no message)."""
    with transaction.atomic():
        return _append_turn(thread=thread, workspace=workspace, request=request, **options)


def _append_turn(
    *,
    thread: Thread,
    workspace: Workspace,
    request: ChatRequest,
    assistant_id: str | None = None,
    new_thread: bool = False,
) -> Turn:
    with turn_files(thread=thread, workspace=workspace, request=request):  # the turn's new files, both or neither
        plan = plan_turn(
            thread=thread,
            messages=request.messages,
            assistant_id=assistant_id or Message.new_id(),
            continue_head=request.only_last,
            new_thread=new_thread,
        )
    return Turn(
        thread=thread,
        workspace=workspace,
        user_message_id=plan.user_message_id,
        assistant_message_id=plan.assistant_message_id,
        needs_title=not thread.title,
        history=plan.history,
        continued_parts=plan.continued_parts,
    )


def save_reply(
    *, workspace: Workspace, thread_id: str, message_id: str, content: dict[str, Any], status: str, if_in_progress: bool
) -> bool:
    """Store how a reply ended, for a caller that knows the thread only by id (the reaper). With `if_in_progress`,
    only a reply still marked in progress (the reaper must never overwrite what its owner saved). False when nothing
    was saved (or the thread is not the workspace's, or was deleted meanwhile)."""
    try:
        thread = services.thread_get(workspace=workspace, thread_id=thread_id)
    except services.NotFound:
        return False
    return services.message_finish(
        thread=thread, message_id=message_id, content=content, status=status, only_in_progress=if_in_progress
    )


def save_assistant(*, turn: Turn, content: dict[str, Any], status: str, title: str | None = None) -> None:
    """The reply as it ended, and (`title`) the new thread's heuristic title: one trip to the database."""
    if status == "stopped":  # as the client that stopped it has it, when that is a prefix of what was generated
        content = stops.as_client_stopped(turn.assistant_message_id, content)
    services.message_finish(
        thread=turn.thread,
        message_id=turn.assistant_message_id,
        content=content,
        status=status,
        only_in_progress=False,
    )
    if title is not None:
        save_title(turn=turn, title=title)


def stopped_by_client(*, turn: Turn) -> bool:
    if not stops.stopped_by_client(turn.assistant_message_id):
        return False
    try:
        return stops.mark_stopped(services.message_get(thread=turn.thread, message_id=turn.assistant_message_id))
    except services.NotFound:
        return False


def save_title(*, turn: Turn, title: str) -> None:
    services.thread_title_if_untitled(workspace=turn.workspace, thread_id=turn.thread_id, title=title)
