"""What every service function shares: the errors a face maps to its status codes, and the two guards of a lookup."""

from __future__ import annotations

from typing import Any, Final

from django.db.models import QuerySet

from config.validation import storable_text
from threads.models import Thread


class NotFound(Exception):
    """The object does not exist in this workspace (whether or not it exists elsewhere)."""


class InvalidParent(ValueError):
    """A message's parent is not a message of the same thread, or would create a cycle."""


class ExternalIdTaken(ValueError):
    """The workspace already has a thread with this external id."""


class Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = Unset()


def scoped_threads(thread: Thread) -> QuerySet[Thread]:
    """This thread's row through its own workspace scope: writes never need the unscoped manager."""
    return Thread.objects.for_workspace(thread.workspace).filter(pk=thread.pk)


def usable_key(value: Any, max_length: int) -> bool:
    """An id from a URL or a body that can be looked up at all (PostgreSQL refuses NUL in a query)."""
    return isinstance(value, str) and len(value) <= max_length and storable_text(value)
