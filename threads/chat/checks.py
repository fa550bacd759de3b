"""Start-up checks for the chat endpoint's settings."""

from __future__ import annotations

from typing import Any

from django.core.checks import Error, Tags, register

from threads.chat.conf import chat_settings


@register(Tags.compatibility)
def check_chat_settings(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    problems = []
    if chat_settings.RESUMABLE and not str(chat_settings.REDIS_URL).startswith(("redis://", "rediss://", "unix://")):
        problems.append(
            Error(
                "CHAT_RESUMABLE is on but no Redis is configured for it.",
                hint="Set CACHE_URL (or CHAT_REDIS_URL) to a redis:// URL, or turn CHAT_RESUMABLE off.",
                id="chat.E001",
            )
        )
    if chat_settings.LEASE_SECONDS < 1:
        problems.append(Error("CHAT_LEASE_SECONDS must be at least 1.", id="chat.E002"))
    return problems
