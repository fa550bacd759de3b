"""manage.py export_threads / import_threads / delete_threads / prune_threads: behaviour, errors, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from tests.support.data import make_thread, thread_ids
from tests.support.paths import ROOT
from threads.models import Message, Thread

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def manage(*args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.test_settings",
        "CLERK_JWKS_URL": "https://clerk.example.test/.well-known/jwks.json",
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("command", "mentions"),
    [
        ("export_threads", "--user"),
        ("import_threads", "--replace"),
        ("delete_threads", "--dry-run"),
        ("prune_threads", "--older-than"),
        ("check_clerk", "--strict"),
    ],
)
def test_every_command_has_help(command, mentions):
    result = manage(command, "--help")
    assert result.returncode == 0
    assert mentions in result.stdout


def test_a_command_error_exits_non_zero_with_the_message_on_stderr():
    result = manage("prune_threads", "--older-than", "soon", "--archived-only")
    assert result.returncode == 1
    assert "--older-than 'soon'" in result.stderr
    assert "Traceback" not in result.stderr


# --- export_threads / import_threads ---------------------------------------------------------------


def test_export_to_stdout_is_the_json_document(world):
    out, err = run("export_threads", "--org", "org_acme")
    document = json.loads(out)
    assert {t["title"] for t in document["threads"]} == {"alice acme", "bob acme"}
    assert "Exported 2 threads" in err


def test_export_to_a_file_then_delete_then_import_restores_everything(world, tmp_path):
    path = tmp_path / "alice.json"
    run("export_threads", "--user", "user_alice", "--output", str(path))
    before = json.loads(path.read_text())
    run("delete_threads", "--user", "user_alice", "--yes")
    assert thread_ids(user_id="user_alice") == set()
    out, _ = run("import_threads", str(path))
    assert "Imported 3 threads, 12 messages, 6 feedback entries, 3 run reports" in out
    again, _ = run("export_threads", "--user", "user_alice")
    assert json.loads(again)["threads"] == before["threads"]


def test_export_shows_progress_per_batch(db):
    for i in range(5):
        make_thread("user_many", messages=1, title=f"t{i}")
    _, err = run("export_threads", "--user", "user_many", "--batch-size", "2")
    assert [line for line in err.splitlines() if line.startswith("exported")] == [
        "exported 2/5 threads",
        "exported 4/5 threads",
        "exported 5/5 threads",
    ]


def test_export_needs_a_user_or_an_organization():
    with pytest.raises(CommandError, match="--user USER_ID, --org ORG_ID"):
        run("export_threads")


def test_export_refuses_an_empty_user():
    with pytest.raises(CommandError, match="--user must be a non-empty string"):
        run("export_threads", "--user", " ")


def test_export_to_an_unwritable_path_fails_cleanly(world, tmp_path):
    with pytest.raises(CommandError, match="Cannot write"):
        run("export_threads", "--org", "org_acme", "--output", str(tmp_path / "missing-dir" / "x.json"))


def test_export_refuses_a_zero_batch_size():
    with pytest.raises(CommandError, match="--batch-size must be a positive number"):
        run("export_threads", "--org", "org_acme", "--batch-size", "0")


def test_import_of_a_missing_file_fails_cleanly(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        run("import_threads", str(tmp_path / "nope.json"))


def test_import_of_a_non_export_names_the_problem(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('{"hello": 1}')
    with pytest.raises(CommandError, match="not a thread export"):
        run("import_threads", str(path))


def test_import_over_existing_threads_needs_replace(world, tmp_path):
    path = tmp_path / "bob.json"
    run("export_threads", "--user", "user_bob", "--output", str(path))
    with pytest.raises(CommandError, match=r"already exist.*--replace"):
        run("import_threads", str(path))
    out, _ = run("import_threads", str(path), "--replace")
    assert "Imported 2 threads" in out


def test_import_without_a_file_argument_is_an_error():
    with pytest.raises(CommandError, match="file"):
        run("import_threads")


# --- delete_threads ---------------------------------------------------------------------------------


def test_delete_needs_yes_and_deletes_nothing_without_it(world):
    with pytest.raises(CommandError, match="--yes"):
        run("delete_threads", "--org", "org_acme")
    assert len(thread_ids()) == 5


def test_delete_dry_run_counts_and_deletes_nothing(world):
    out, _ = run("delete_threads", "--org", "org_acme", "--dry-run")
    assert "Would delete 2 threads, 8 messages, 4 feedback entries, 2 run reports of organization org_acme" in out
    assert len(thread_ids()) == 5


def test_delete_of_one_member_in_one_org(world):
    out, _ = run("delete_threads", "--user", "user_bob", "--org", "org_acme", "--yes")
    assert "Deleted 1 threads" in out
    assert world.bob_acme.id not in thread_ids()
    assert world.bob_personal.id in thread_ids()


def test_delete_refuses_dry_run_and_yes_together():
    with pytest.raises(CommandError, match="not allowed with"):
        run("delete_threads", "--org", "org_acme", "--dry-run", "--yes")


# --- prune_threads ----------------------------------------------------------------------------------


@pytest.fixture
def ages(db) -> dict[str, Thread]:
    """Archived and active threads, untouched for 40 days or touched recently."""
    old_archived = make_thread("user_p", is_archived=True, title="old archived")
    old_active = make_thread("user_p", title="old active")
    recent_archived = make_thread("user_p", is_archived=True, title="recent archived")
    now = timezone.now()
    Thread.unscoped_for_operators.filter(pk=recent_archived.pk).update(updated_at=now - timedelta(days=2))
    return {"old_archived": old_archived, "old_active": old_active, "recent_archived": recent_archived}


def test_prune_archived_only_deletes_old_archived_threads(ages):
    out, _ = run("prune_threads", "--older-than", "30d", "--archived-only")
    assert "Pruned 1 threads, 4 messages" in out
    assert thread_ids(user_id="user_p") == {ages["old_active"].id, ages["recent_archived"].id}
    assert not Message.unscoped_for_operators.filter(thread_id=ages["old_archived"].id).exists()


def test_prune_include_active_also_deletes_old_active_threads(ages):
    run("prune_threads", "--older-than", "30d", "--include-active")
    assert thread_ids(user_id="user_p") == {ages["recent_archived"].id}


def test_prune_keeps_a_thread_with_a_recent_message(ages):
    Thread.unscoped_for_operators.filter(pk=ages["old_archived"].pk).update(last_message_at=timezone.now())
    out, _ = run("prune_threads", "--older-than", "30d", "--archived-only")
    assert "Pruned 0 threads" in out


def test_prune_age_units(ages):
    run("prune_threads", "--older-than", "1d", "--archived-only")
    assert thread_ids(user_id="user_p") == {ages["old_active"].id}


def test_prune_dry_run_deletes_nothing(ages):
    out, _ = run("prune_threads", "--older-than", "30d", "--archived-only", "--dry-run")
    assert "Would delete 1 threads" in out
    assert len(thread_ids(user_id="user_p")) == 3


def test_prune_shows_progress(ages):
    _, err = run("prune_threads", "--older-than", "30d", "--include-active", "--batch-size", "1")
    assert "pruned 1/2 threads" in err and "pruned 2/2 threads" in err


@pytest.mark.parametrize("age", ["30", "0d", "-3d", "30y", "thirty days", ""])
def test_prune_refuses_a_bad_age(age):
    with pytest.raises(CommandError, match="--older-than"):
        run("prune_threads", "--older-than", age, "--archived-only")


def test_prune_needs_to_be_told_which_threads(ages):
    with pytest.raises(CommandError, match="--archived-only"):
        run("prune_threads", "--older-than", "30d")
    assert len(thread_ids(user_id="user_p")) == 3


def test_prune_needs_an_age():
    with pytest.raises(CommandError, match="--older-than"):
        run("prune_threads", "--archived-only")
