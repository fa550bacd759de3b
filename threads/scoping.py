"""Workspace scoping for tenant models: the only way request code reaches chat data.

Every tenant model (`Thread`, `Message`, `MessageFeedback`, `RunReport`) has the scoped manager as its
`objects` AND its default manager, so `Model.objects`, `Model._default_manager` and
`get_object_or_404(Model, ...)` all refuse a query that does not start with `.for_workspace(workspace)`:
a forgotten filter raises instead of leaking. Relations from an object that was itself fetched in scope
(`thread.messages`, `message.feedback`) stay usable. The unscoped manager is named
`unscoped_for_operators`: for the admin, management commands and data tools, never request code (a test
walks the request code's syntax tree to keep it so).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, TypeVar

from django.db import models

if TYPE_CHECKING:
    from chatauth.caller import Workspace

M = TypeVar("M", bound=models.Model)


class UnscopedQueryError(RuntimeError):
    """A tenant model was queried without a workspace."""


class WorkspaceScopedManager(models.Manager, Generic[M]):
    """Fails closed: `get_queryset()` raises; `for_workspace()` is the way in."""

    #: The lookup that names the workspace key column, e.g. "workspace_key" or "thread__workspace_key".
    workspace_lookup = "workspace_key"

    def get_queryset(self) -> models.QuerySet[M]:
        if hasattr(self, "core_filters"):
            # A related manager (`thread.messages`): bounded by an instance that was fetched in scope.
            return super().get_queryset()
        raise UnscopedQueryError(
            f"{self.model.__name__}.objects needs a workspace: use "
            f"{self.model.__name__}.objects.for_workspace(workspace)."
        )

    def for_workspace(self, workspace: Workspace) -> models.QuerySet[M]:
        if workspace is None or not getattr(workspace, "key", None):
            raise UnscopedQueryError(f"{self.model.__name__}.objects.for_workspace() needs a workspace.")
        base = self._queryset_class(model=self.model, using=self._db, hints=self._hints)
        return base.filter(**{self.workspace_lookup: workspace.key})
