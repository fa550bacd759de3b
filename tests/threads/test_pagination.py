"""Keyset pagination of the thread list: complete, stable under inserts, capped, with opaque cursors."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from threads import services
from threads.models import Thread
from threads.pagination import encode_cursor

pytestmark = pytest.mark.django_db


def page(api, **params):
    response = api.get("/api/threads", **params)
    assert response.status_code == 200, response.content
    return response.json()


def walk(api, **params) -> list[str]:
    """Every id the client sees by following next_cursor to the end."""
    seen: list[str] = []
    body = page(api, **params)
    while True:
        seen += [t["id"] for t in body["threads"]]
        if body["next_cursor"] is None:
            return seen
        body = page(api, **params, cursor=body["next_cursor"])


def make_threads(api, count: int, *, when=None) -> list[Thread]:
    """`count` threads in the caller's workspace; all at `when` if given (ties broken by id)."""
    return [services.thread_create(workspace=api.workspace, last_message_at=when) for _ in range(count)]


def expected_order(threads: list[Thread]) -> list[str]:
    """Newest activity first, ties by id, compared as the database compares them (byte order under a C collation,
    not under en_US's): one query over the whole set, against which the pages are checked."""
    ids = [t.id for t in threads]
    ordered = Thread.unscoped_for_operators.filter(pk__in=ids).order_by("-last_message_at", "-id")
    return list(ordered.values_list("id", flat=True))


def test_following_cursors_returns_every_thread_once_in_order(alice):
    threads = make_threads(alice, 23)
    assert walk(alice, limit=5) == expected_order(threads)


def test_threads_with_identical_activity_times_are_ordered_by_id_without_gaps(alice):
    same = timezone.now()
    threads = make_threads(alice, 12, when=same)
    assert walk(alice, limit=5) == expected_order(threads)


def test_the_last_page_has_no_next_cursor(alice):
    make_threads(alice, 3)
    assert page(alice, limit=3)["next_cursor"] is None
    assert page(alice, limit=2)["next_cursor"] is not None


def test_inserts_between_pages_neither_skip_nor_repeat_rows(alice):
    base = timezone.now() - timedelta(hours=1)
    original = [
        services.thread_create(workspace=alice.workspace, last_message_at=base + timedelta(seconds=i // 3))
        for i in range(30)
    ]
    seen: list[str] = []
    body = page(alice, limit=7)
    rounds = 0
    while True:
        seen += [t["id"] for t in body["threads"]]
        # Meanwhile other tabs create threads: newer ones, and ones tied with the page boundary.
        make_threads(alice, 2)
        boundary = Thread.objects.for_workspace(alice.workspace).get(pk=seen[-1]).last_message_at
        make_threads(alice, 2, when=boundary)
        rounds += 1
        if body["next_cursor"] is None:
            break
        body = page(alice, limit=7, cursor=body["next_cursor"])
    assert rounds > 3
    assert len(seen) == len(set(seen)), "a row was repeated"
    original_ids = {t.id for t in original}
    assert original_ids <= set(seen), "a row was skipped"
    assert [i for i in seen if i in original_ids] == expected_order(original)


def test_deleting_the_row_a_cursor_points_at_does_not_break_the_next_page(alice):
    threads = make_threads(alice, 6)
    order = expected_order(threads)
    body = page(alice, limit=3)
    Thread.objects.for_workspace(alice.workspace).filter(pk=order[2]).delete()
    rest = [t["id"] for t in page(alice, limit=3, cursor=body["next_cursor"])["threads"]]
    assert rest == order[3:]


def test_limit_defaults_to_page_size(alice, settings):
    settings.THREADS = {**settings.THREADS, "PAGE_SIZE": 4}
    make_threads(alice, 6)
    assert len(page(alice)["threads"]) == 4


@pytest.mark.parametrize("limit", ["6", "1000", "9" * 40])
def test_a_limit_over_max_page_size_is_400_on_both_faces(alice, settings, limit):
    """The faces disagreed (capped here, 400 on /v1): the stricter rule now holds on both."""
    settings.THREADS = {**settings.THREADS, "MAX_PAGE_SIZE": 5}
    make_threads(alice, 8)
    response = alice.get("/api/threads", limit=limit)
    assert response.status_code == 400
    assert "THREADS_MAX_PAGE_SIZE" in response.json()["message"]
    assert len(page(alice, limit="5")["threads"]) == 5


@pytest.mark.parametrize("limit", ["0", "-1", "ten", "1.5", " 3", "+3", "1_0", "٣"])
def test_a_bad_limit_is_400(alice, limit):
    response = alice.get("/api/threads", limit=limit)
    assert response.status_code == 400
    assert "limit" in response.json()["message"]


@pytest.mark.parametrize("cursor", ["garbage", "eyJ4IjoxfQ", "W10", "WzEsIjIwMjYiLCJ0aHJfeCJd", "!!!"])
def test_a_cursor_this_service_did_not_issue_is_400(alice, cursor):
    response = alice.get("/api/threads", cursor=cursor)
    assert response.status_code == 400
    assert "cursor" in response.json()["message"]


def test_a_cursor_from_another_workspace_only_pages_through_the_callers_own_threads(alice, bob):
    theirs = make_threads(bob, 3)
    mine = make_threads(alice, 3)
    foreign_cursor = encode_cursor(max(theirs, key=lambda t: (t.last_message_at, t.id)))
    ids = {t["id"] for t in page(alice, cursor=foreign_cursor, limit=100)["threads"]}
    assert ids <= {t.id for t in mine}


def test_cursors_are_opaque_strings(alice):
    make_threads(alice, 3)
    cursor = page(alice, limit=1)["next_cursor"]
    assert isinstance(cursor, str)
    assert cursor.isascii() and "/" not in cursor and "+" not in cursor


@pytest.mark.django_db(transaction=True)
def test_inserts_from_a_concurrent_writer_neither_skip_nor_repeat_rows(api_for):
    """A second connection keeps committing newer threads while the client pages through the list."""
    alice = api_for("user_alice")
    original = make_threads(alice, 40)
    stop = threading.Event()
    inserted: list[str] = []

    def writer() -> None:
        try:
            while not stop.is_set():
                inserted.append(services.thread_create(workspace=alice.workspace).id)
        finally:
            connections.close_all()

    background = threading.Thread(target=writer)
    background.start()
    try:
        seen = walk(alice, limit=5)
    finally:
        stop.set()
        background.join()
    assert inserted, "the writer never ran"
    assert len(seen) == len(set(seen)), "a row was repeated"
    original_ids = {t.id for t in original}
    assert [i for i in seen if i in original_ids] == expected_order(original)
