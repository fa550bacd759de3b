"""The OpenAPI document is complete: every endpoint of the faces, typed `/v1` responses, the chat stream described,
no `/v1/` catch-all; and `manage.py spectacular --validate --fail-on-warn` passes (as `.ci/run` runs it)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.generators import SchemaGenerator

from tests.support.paths import ROOT

UNDOCUMENTED = {
    "/api/schema/",
    "/api/docs/",
    "/api/docs/assets/{name}",
    "/",
    "/app/assets/{name}",
    "/metrics",
    "/dev/.well-known/jwks.json",
}


def _routes(patterns: list[Any], prefix: str = "") -> list[str]:
    found = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            found += _routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            route = prefix + str(pattern.pattern)
            if not route.startswith(("admin/", "^")) and "^" not in route:
                found.append("/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route))
    return found


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)


def test_every_route_is_documented(schema: dict[str, Any]) -> None:
    missing = [r for r in _routes(get_resolver().url_patterns) if r not in schema["paths"] and r not in UNDOCUMENTED]
    assert missing == []
    assert not any(path.startswith("/v1/") and path.endswith("/") for path in schema["paths"])  # no catch-all


def test_chat_is_an_event_stream_with_a_request_body(schema: dict[str, Any]) -> None:
    chat = schema["paths"]["/api/chat"]["post"]
    assert "messages" in chat["requestBody"]["content"]["application/json"]["schema"]["properties"]
    assert "text/event-stream" in chat["responses"]["200"]["content"]
    stream = schema["paths"]["/api/chat/{thread_id}/stream"]
    assert set(stream) == {"get", "delete"} and "text/event-stream" in stream["get"]["responses"]["200"]["content"]
    assert "/api/threads/{thread_id}/title" in schema["paths"]


def test_every_v1_and_token_success_has_a_typed_body(schema: dict[str, Any]) -> None:
    for path, operations in schema["paths"].items():
        if not path.startswith(("/v1/", "/api/assistant-ui-token")):
            continue
        for method, operation in operations.items():
            for code, response in operation["responses"].items():
                if code.startswith("2") and code != "204":
                    assert response.get("content"), (method, path, code)
                if code.startswith(("4", "5")):
                    assert response.get("content"), (method, path, code)


def test_spectacular_validates_without_warnings() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEBUG", "DJANGO_SETTINGS"))}
    result = subprocess.run(
        [sys.executable, "manage.py", "spectacular", "--validate", "--fail-on-warn", "--file", os.devnull],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "true"},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Warning [" not in result.stderr and "Error [" not in result.stderr
