"""The `THREADS` settings namespace, read lazily so `override_settings` works in tests."""

from __future__ import annotations

from typing import Any

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
    # Message-list page size when `limit` is absent, and its cap (both faces page messages).
    "MESSAGE_PAGE_SIZE": 200,
}


threads_settings = AppSettings("THREADS", DEFAULTS)
