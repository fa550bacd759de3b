"""Fail-closed workspace scoping: unscoped use raises, and request code never reaches around it."""

from __future__ import annotations

import ast

import pytest
from django.shortcuts import get_object_or_404

from chatauth.caller import Workspace
from tests.support.paths import ROOT
from threads import services
from threads.models import Message, MessageFeedback, RunReport, Thread
from threads.scoping import UnscopedQueryError

pytestmark = pytest.mark.django_db

ALICE = Workspace(user_id="user_alice")
ALICE_IN_ACME = Workspace(user_id="user_alice", org_id="org_acme")
BOB_IN_ACME = Workspace(user_id="user_bob", org_id="org_acme")


@pytest.mark.parametrize(
    "use",
    [
        lambda: list(Thread.objects.all()),
        lambda: Thread.objects.filter(title="x").exists(),
        lambda: Thread.objects.get(pk="thr_x"),
        lambda: Thread.objects.count(),
        lambda: Thread.objects.create(workspace_key="user_x", user_id="user_x"),
        lambda: list(Message.objects.all()),
        lambda: Message.objects.filter(message_id="m").first(),
        lambda: Message.objects.count(),
    ],
)
def test_unscoped_use_of_the_tenant_managers_raises(use):
    with pytest.raises(UnscopedQueryError):
        use()


@pytest.mark.parametrize("workspace", [None, Workspace(user_id="")])
def test_for_workspace_without_a_workspace_raises(workspace):
    with pytest.raises(UnscopedQueryError):
        Thread.objects.for_workspace(workspace)


def test_for_workspace_sees_only_that_workspaces_threads():
    mine = services.thread_create(workspace=ALICE_IN_ACME)
    services.thread_create(workspace=ALICE)
    services.thread_create(workspace=BOB_IN_ACME)
    assert [t.id for t in Thread.objects.for_workspace(ALICE_IN_ACME)] == [mine.id]


def test_a_personal_workspace_is_not_every_workspace_of_the_user():
    services.thread_create(workspace=ALICE_IN_ACME)
    assert Thread.objects.for_workspace(ALICE).count() == 0


def test_message_scope_follows_the_threads_workspace():
    thread = services.thread_create(workspace=ALICE)
    services.message_append(thread=thread, format="aui/v0", content={"role": "user"})
    assert Message.objects.for_workspace(ALICE).count() == 1
    assert Message.objects.for_workspace(ALICE_IN_ACME).count() == 0


def test_thread_get_raises_the_same_not_found_for_missing_and_foreign_ids():
    thread = services.thread_create(workspace=ALICE)
    with pytest.raises(services.NotFound) as foreign:
        services.thread_get(workspace=BOB_IN_ACME, thread_id=thread.id)
    with pytest.raises(services.NotFound) as missing:
        services.thread_get(workspace=BOB_IN_ACME, thread_id="thr_missing")
    assert str(foreign.value) == str(missing.value)


@pytest.mark.parametrize("model", [Thread, Message, MessageFeedback, RunReport], ids=lambda m: m.__name__)
def test_the_default_manager_of_every_tenant_model_fails_closed(model):
    """`_default_manager` (used by get_object_or_404, serializers, generic code) refuses unscoped queries."""
    assert model._default_manager is model.objects
    with pytest.raises(UnscopedQueryError):
        model._default_manager.all()
    with pytest.raises(UnscopedQueryError):
        get_object_or_404(model, pk=1)


def test_relations_of_an_object_fetched_in_scope_still_work():
    thread = services.thread_create(workspace=ALICE)
    services.message_append(thread=thread, format="aui/v0", content={"role": "user"})
    assert thread.messages.count() == 1


TENANT_MODELS = {"Thread", "Message", "MessageFeedback", "RunReport", "Attachment", "Score", "RunLease", "TraceBatch"}
UNSCOPED_ATTRIBUTES = {"unscoped_for_operators", "_default_manager", "_base_manager"}
UNSCOPED_NAMES = {"get_object_or_404", "get_list_or_404", "unscoped_for_operators"}
# Operator tools: they act across workspaces by design (the admin, commands, export/import/delete, and the
# IdP deletion webhook, which deletes one user's data in every workspace). Everything else is request code.
OPERATOR_CODE = {"admin.py", "portability.py", "restore.py", "webhooks.py", "scoping.py", "models.py"}
# Request code that reads across workspaces by definition, each with its reason. Keep this list short.
PROJECT_WIDE = {
    # `/v1/projects/threads[/<id>/messages]`: the project-wide listing the assistant-cloud client offers to the
    # project's own server. Read-only, reached only through `ProjectAccess` (API-key callers; workspace tokens
    # get 403), and the one module allowed the unscoped manager in request code (test below keeps it imported
    # by nothing but the project views).
    "threads/cloud/project_listing.py",
}
REQUEST_CODE = sorted(
    path
    for package in ("threads", "chatauth")
    for path in (ROOT / package).rglob("*.py")
    if "migrations" not in path.parts
    and "management" not in path.parts
    and path.name not in OPERATOR_CODE
    and str(path.relative_to(ROOT)) not in PROJECT_WIDE
)


def _tenant_names(tree: ast.AST) -> set[str]:
    """The names a module binds to tenant models, aliases included (`from threads.models import Thread as T`)."""
    names = set(TENANT_MODELS)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            names |= {alias.asname for alias in node.names if alias.name in TENANT_MODELS and alias.asname}
    return names


def unscoped_uses(source: str) -> list[str]:
    """Every spelling of unscoped tenant access in `source`: the unscoped or default/base managers,
    `get_object_or_404`/`get_list_or_404`, and `<TenantModel>.objects.<anything but for_workspace>`."""
    tree = ast.parse(source)
    tenants = _tenant_names(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in UNSCOPED_ATTRIBUTES:
            found.append(f"{node.lineno}: .{node.attr}")
        elif isinstance(node, ast.Name) and node.id in UNSCOPED_NAMES:
            found.append(f"{node.lineno}: {node.id}")
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "objects"
            and isinstance(node.value.value, ast.Name)
            and node.value.value.id in tenants
            and node.attr != "for_workspace"
        ):
            found.append(f"{node.lineno}: {node.value.value.id}.objects.{node.attr}")
    return found


def test_the_request_code_list_covers_every_face():
    names = {str(p.relative_to(ROOT)) for p in REQUEST_CODE}
    assert {
        "threads/api/views.py",
        "threads/cloud/views.py",
        "threads/chat/views.py",
        "threads/services/threads.py",
    } <= names
    assert "chatauth/cloud/views.py" in names
    assert "threads/services/messages.py" in names


@pytest.mark.parametrize(
    "source",
    [
        "Thread.all()",  # not a manager: fine
        "Thread.objects.for_workspace(ws).get(id=1)",
    ],
)
def test_the_guard_accepts_scoped_access(source):
    assert unscoped_uses(source) == []


@pytest.mark.parametrize(
    "source",
    [
        "Thread.objects.get(id=1)",
        "Message.objects.filter(x=1)",
        "MessageFeedback.objects.create(x=1)",
        "RunReport.objects.all()",
        "from threads.models import Thread as T\nT.objects.get(id=1)",
        "Thread._default_manager.get(id=1)",
        "Thread._base_manager.all()",
        "Thread.unscoped_for_operators.all()",
        "get_object_or_404(Thread, id=1)",
        "from django.shortcuts import get_list_or_404\nget_list_or_404(Message)",
    ],
)
def test_the_guard_catches_every_spelling_of_unscoped_access(source):
    assert unscoped_uses(source) != []


@pytest.mark.parametrize("path", REQUEST_CODE, ids=lambda p: str(p.relative_to(ROOT)))
def test_request_code_reaches_tenant_data_only_through_for_workspace(path):
    offenders = unscoped_uses(path.read_text())
    assert offenders == [], f"{path.relative_to(ROOT)} reaches tenant data unscoped:\n" + "\n".join(offenders)


def test_the_project_wide_listing_is_imported_only_by_the_project_views():
    importers = sorted(
        str(path.relative_to(ROOT))
        for package in ("threads", "chatauth", "config")
        for path in (ROOT / package).rglob("*.py")
        if "project_listing" in path.read_text() and str(path.relative_to(ROOT)) not in PROJECT_WIDE
    )
    assert importers == ["threads/cloud/projects.py"]
