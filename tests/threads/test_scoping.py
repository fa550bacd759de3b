"""Fail-closed workspace scoping: unscoped use raises, and request code never reaches around it."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from chatauth.caller import Workspace
from threads import services
from threads.models import Message, Thread
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


def test_the_default_manager_is_the_unscoped_one_for_admin_and_relations():
    """The admin and reverse relations (thread.messages) use `_default_manager`; it must be all_workspaces."""
    assert Thread._default_manager is Thread.all_workspaces
    assert Message._default_manager is Message.all_workspaces


ROOT = Path(__file__).resolve().parents[2]
REQUEST_FILES = sorted(
    {
        ROOT / "threads" / "api" / "views.py",
        ROOT / "threads" / "api" / "serializers.py",
        ROOT / "threads" / "cloud" / "views.py",
        ROOT / "threads" / "cloud" / "serializers.py",
        *(ROOT / "threads" / "chat").glob("*.py"),
    }
)


def test_the_request_file_list_is_not_empty():
    assert all(path.is_file() for path in REQUEST_FILES)
    assert len(REQUEST_FILES) > 5


@pytest.mark.parametrize("path", REQUEST_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_request_files_never_mention_all_workspaces(path):
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if "all_workspaces" in line
    ]
    assert offenders == [], "request code must scope through for_workspace():\n" + "\n".join(offenders)


def _view_modules() -> set[str]:
    """Every project module that defines a view reachable from the URLconf (the admin excluded)."""
    found: set[str] = set()

    def walk(patterns: list) -> None:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                if getattr(entry, "app_name", None) == "admin":
                    continue
                walk(entry.url_patterns)
            elif isinstance(entry, URLPattern):
                callback = entry.callback
                owner = getattr(callback, "cls", None) or getattr(callback, "view_class", None) or callback
                module = getattr(owner, "__module__", "") or ""
                if module.split(".")[0] in {"threads", "chatauth"}:
                    found.add(module)

    walk(get_resolver().url_patterns)
    return found


# Request code: every view module, plus the modules the threads views run on every request.
REQUEST_MODULES = sorted(
    _view_modules() | {"threads.api.views", "threads.services", "threads.api.serializers", "threads.pagination"}
)


def test_the_request_module_list_covers_the_threads_views():
    assert "threads.api.views" in _view_modules()


@pytest.mark.parametrize("module_name", REQUEST_MODULES)
def test_request_code_never_uses_the_unscoped_manager(module_name):
    source = Path(inspect.getfile(importlib.import_module(module_name))).read_text()
    offenders = [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if (isinstance(node, ast.Attribute) and node.attr == "all_workspaces")
        or (isinstance(node, ast.Name) and node.id == "all_workspaces")
    ]
    assert offenders == [], f"{module_name} uses all_workspaces on lines {offenders}: request code must scope"


@pytest.mark.parametrize("module_name", REQUEST_MODULES)
def test_request_code_reaches_tenant_managers_only_through_for_workspace(module_name):
    source = Path(inspect.getfile(importlib.import_module(module_name))).read_text()
    offenders = []
    for node in ast.walk(ast.parse(source)):
        # `X.objects.<method>` where X is a tenant model: the method must be for_workspace.
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "objects"
            and isinstance(node.value.value, ast.Name)
            and node.value.value.id in {"Thread", "Message"}
            and node.attr != "for_workspace"
        ):
            offenders.append(node.lineno)
    assert offenders == [], f"{module_name} uses an unscoped tenant manager on lines {offenders}"
