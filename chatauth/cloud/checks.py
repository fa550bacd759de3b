"""Start-up checks for the CLOUD namespace: unusable signing keys or workspace-id format fail before any request."""

from __future__ import annotations

import re
from typing import Any

from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured

from chatauth.cloud.conf import cloud_settings


@register(Tags.security)
def check_cloud_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Refuse to start with unusable signing keys or workspace-id format; nudge towards explicit keys."""
    problems: list[CheckMessage] = []
    cloud_settings.reload()
    try:
        cloud_settings.signing_keys  # noqa: B018 - parsing is the check
    except (ImproperlyConfigured, ValueError, TypeError) as exc:
        problems.append(Error(f"CLOUD signing keys are unusable: {exc}", id="chatauth.E101"))
    names = re.findall(r"\{(\w+)\}", str(cloud_settings.WORKSPACE_ID_FORMAT))
    if names.count("user_id") != 1 or len(names) != 2:
        problems.append(
            Error("CLOUD WORKSPACE_ID_FORMAT needs {user_id} and exactly one group placeholder.", id="chatauth.E102")
        )
    return problems


@register(Tags.security, deploy=True)
def check_cloud_deploy(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if cloud_settings.uses_derived_key:
        return [
            Warning(
                "Workspace tokens are signed with a key derived from SECRET_KEY.",
                hint="Set CLOUD_SIGNING_KEYS so keys can be rotated without downtime.",
                id="chatauth.W101",
            )
        ]
    return []
