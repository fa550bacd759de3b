"""Start-up checks for the THREADS namespace: nonsense limits fail at start-up, not on the first request."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register

from threads.conf import DEFAULTS, threads_settings


@register(Tags.compatibility)
def check_threads_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Nonsense limits fail at start-up, not on the first request (the values as resolved: overrides, env, defaults)."""
    problems: list[CheckMessage] = []
    overrides = getattr(settings, "THREADS", {}) or {}
    for name in sorted(set(overrides) - set(DEFAULTS)):
        problems.append(Error(f"Unknown THREADS setting {name!r}.", id="threads.E001"))
    threads_settings.reload()
    values = {name: getattr(threads_settings, name) for name in DEFAULTS}
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            problems.append(Error(f"THREADS[{name!r}] must be a positive integer, not {value!r}.", id="threads.E002"))
    if not problems:
        if values["PAGE_SIZE"] > values["MAX_PAGE_SIZE"]:
            problems.append(Error("THREADS PAGE_SIZE must not exceed MAX_PAGE_SIZE.", id="threads.E003"))
        if values["MAX_CONTENT_BYTES"] > values["MAX_BODY_BYTES"]:
            problems.append(Error("THREADS MAX_CONTENT_BYTES must not exceed MAX_BODY_BYTES.", id="threads.E004"))
    return problems
