"""The `THREADS` settings namespace, read lazily so `override_settings` works in tests."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register

from config.appsettings import AppSettings

DEFAULTS: dict[str, Any] = {
    # Largest accepted message `content`, measured as compact UTF-8 JSON.
    "MAX_CONTENT_BYTES": 256 * 1024,
    # Largest accepted thread `metadata`, measured the same way.
    "MAX_METADATA_BYTES": 16 * 1024,
    # Largest request body any threads endpoint reads; bigger bodies are refused with 413 before parsing.
    "MAX_BODY_BYTES": 1024 * 1024,
    # Thread-list page size when `limit` is absent, and the cap on `limit`.
    "PAGE_SIZE": 20,
    "MAX_PAGE_SIZE": 100,
}


threads_settings = AppSettings("THREADS", DEFAULTS)


@register(Tags.compatibility)
def check_threads_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Nonsense limits fail at start-up, not on the first request."""
    problems: list[CheckMessage] = []
    user = getattr(settings, "THREADS", {}) or {}
    for name in sorted(set(user) - set(DEFAULTS)):
        problems.append(Error(f"Unknown THREADS setting {name!r}.", id="threads.E001"))
    for name in DEFAULTS:
        value = user.get(name, DEFAULTS[name])
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            problems.append(Error(f"THREADS[{name!r}] must be a positive integer, not {value!r}.", id="threads.E002"))
    if not problems:
        if user.get("PAGE_SIZE", DEFAULTS["PAGE_SIZE"]) > user.get("MAX_PAGE_SIZE", DEFAULTS["MAX_PAGE_SIZE"]):
            problems.append(Error("THREADS PAGE_SIZE must not exceed MAX_PAGE_SIZE.", id="threads.E003"))
        if user.get("MAX_CONTENT_BYTES", DEFAULTS["MAX_CONTENT_BYTES"]) > user.get(
            "MAX_BODY_BYTES", DEFAULTS["MAX_BODY_BYTES"]
        ):
            problems.append(Error("THREADS MAX_CONTENT_BYTES must not exceed MAX_BODY_BYTES.", id="threads.E004"))
    return problems
