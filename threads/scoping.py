"""Workspace scoping for tenant models: the only way request code reaches chat data.

`Thread.objects` and `Message.objects` refuse every query that does not start with
`.for_workspace(workspace)`; a forgotten filter raises instead of leaking. The explicitly named
`all_workspaces` manager is for the admin, management commands and migrations, never request code.
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
        raise UnscopedQueryError(
            f"{self.model.__name__}.objects needs a workspace: use "
            f"{self.model.__name__}.objects.for_workspace(workspace)."
        )

    def for_workspace(self, workspace: Workspace) -> models.QuerySet[M]:
        if workspace is None or not getattr(workspace, "key", None):
            raise UnscopedQueryError(f"{self.model.__name__}.objects.for_workspace() needs a workspace.")
        base = self._queryset_class(model=self.model, using=self._db, hints=self._hints)
        return base.filter(**{self.workspace_lookup: workspace.key})
