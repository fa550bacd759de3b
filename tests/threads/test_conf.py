"""The THREADS settings namespace: defaults, overrides and start-up checks."""

from __future__ import annotations

import pytest

from threads.checks import check_threads_settings
from threads.conf import threads_settings


def test_overrides_are_read_after_a_settings_change(settings):
    settings.THREADS = {**settings.THREADS, "MAX_PAGE_SIZE": 7}
    assert threads_settings.MAX_PAGE_SIZE == 7


def test_project_settings_pass_the_check():
    assert check_threads_settings() == []


@pytest.mark.parametrize(
    ("threads", "error_id"),
    [
        ({"PAGE_SIZE": 0}, "threads.E002"),
        ({"MAX_CONTENT_BYTES": "big"}, "threads.E002"),
        ({"MAX_PAGE_SZ": 5}, "threads.E001"),
        ({"PAGE_SIZE": 50, "MAX_PAGE_SIZE": 10}, "threads.E003"),
        ({"MAX_CONTENT_BYTES": 2048, "MAX_BODY_BYTES": 1024}, "threads.E004"),
    ],
)
def test_nonsense_settings_fail_the_check(settings, threads, error_id):
    settings.THREADS = threads
    assert error_id in [problem.id for problem in check_threads_settings()]
