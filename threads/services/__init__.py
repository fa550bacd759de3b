"""Every read by id and every write of chat data: small, atomic, workspace-first.

Views and streams call these with a `Workspace` they got from the verified principal; nothing here
accepts a bare thread id without one, so "missing" and "someone else's" are the same `NotFound`.
Every face imports this package (`from threads import services`); the functions live by entity.
"""

from threads.services.common import UNSET, ExternalIdTaken, InvalidParent, NotFound
from threads.services.messages import (
    first_user_message,
    message_append,
    message_append_first_turn,
    message_finish,
    message_get,
    message_head,
    message_page,
    message_update,
    messages_in_tree_order,
)
from threads.services.threads import (
    ThreadClaim,
    thread_claim,
    thread_claim_statement,
    thread_create,
    thread_delete,
    thread_discard_if_empty,
    thread_get,
    thread_list,
    thread_title_if_untitled,
    thread_update,
)

__all__ = [
    "UNSET",
    "ExternalIdTaken",
    "InvalidParent",
    "NotFound",
    "ThreadClaim",
    "first_user_message",
    "message_append",
    "message_append_first_turn",
    "message_finish",
    "message_get",
    "message_head",
    "message_page",
    "message_update",
    "messages_in_tree_order",
    "thread_claim",
    "thread_claim_statement",
    "thread_create",
    "thread_delete",
    "thread_discard_if_empty",
    "thread_get",
    "thread_list",
    "thread_title_if_untitled",
    "thread_update",
]
