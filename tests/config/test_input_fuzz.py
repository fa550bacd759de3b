"""Property: whatever text or timestamp a client puts in any field of any endpoint, the answer is never a 500.

Hypothesis fills each string field of each JSON endpoint on both faces with arbitrary text (NUL, lone
surrogates, control characters, huge and empty strings) and each timestamp field with arbitrary ISO-looking
strings (years 0001 and 9999, offsets of +-14 h), and sends the body the way a browser's `JSON.stringify`
would. Every answer is a success or a 4xx with the `{error, message}` shape, and every read of the
workspace's lists still answers 200 afterwards (nothing unreadable was stored).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from chatauth.caller import Workspace
from chatauth.cloud.tokens import mint
from threads import services

pytestmark = pytest.mark.django_db

TEXT = st.one_of(
    st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=40),
    st.sampled_from(["", "\x00", "\ud800", "a\udfffb", "x" * 600, "😀" * 10, "org_x:user_y", "../../etc"]),
)
TIMESTAMP = st.one_of(
    TEXT,
    st.builds(
        "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}{}".format,
        st.sampled_from([1, 2, 1899, 1900, 1970, 2026, 8999, 9000, 9999]),
        st.integers(1, 12),
        st.integers(1, 31),
        st.integers(0, 23),
        st.integers(0, 59),
        st.integers(0, 59),
        st.sampled_from(["Z", "+14:00", "-14:00", "+00:00", "", ".123456Z"]),
    ),
)

# (face, method, path, the fields a hypothesis value goes into, and the rest of a valid body)
API = [
    ("POST", "/api/threads", {"title": TEXT, "external_id": TEXT}, {}),
    ("POST", "/api/threads", {"metadata": st.dictionaries(TEXT, TEXT, max_size=3)}, {}),
    ("PATCH", "/api/threads/{thread}", {"title": TEXT}, {}),
    ("POST", "/api/threads/{thread}/messages", {"id": TEXT, "parent_id": TEXT, "format": TEXT}, {"content": {}}),
    ("POST", "/api/threads/{thread}/messages", {"content": st.dictionaries(TEXT, TEXT, max_size=3)}, {"format": "f"}),
    ("PATCH", "/api/threads/{thread}/messages/m1", {"parent_id": st.one_of(st.none(), TEXT)}, {}),
]
CLOUD = [
    ("POST", "/v1/threads", {"title": TEXT, "external_id": TEXT, "last_message_at": TIMESTAMP}, {}),
    ("PUT", "/v1/threads/{thread}", {"title": TEXT, "last_message_at": TIMESTAMP}, {}),
    ("PUT", "/v1/threads/{thread}", {"metadata": st.dictionaries(TEXT, TEXT, max_size=3)}, {}),
    (
        "POST",
        "/v1/threads/{thread}/messages",
        {"parent_id": TEXT, "external_id": TEXT, "format": TEXT},
        {"content": {}},
    ),
    ("PUT", "/v1/threads/{thread}/messages/m1", {"content": st.dictionaries(TEXT, TEXT, max_size=3)}, {}),
    ("POST", "/v1/threads/{thread}/messages/m1/feedback", {"comment": TEXT}, {"type": "positive"}),
    ("POST", "/v1/runs", {"thread_id": TEXT, "model_id": TEXT}, {"status": "completed"}),
    ("POST", "/v1/runs", {"model_id": TEXT}, {"thread_id": "{thread}", "status": "completed"}),
    ("POST", "/v1/runs/stream", {"thread_id": TEXT, "assistant_id": TEXT}, {}),
    ("POST", "/v1/threads/claim", {"refresh_token": TEXT}, {}),
    ("POST", "/v1/auth/tokens/refresh", {"refresh_token": TEXT}, {}),
    ("POST", "/v1/scores", {"name": TEXT, "string_value": TEXT, "comment": TEXT}, {"data_type": "categorical"}),
    (
        "POST",
        "/v1/scores",
        {"thread_id": TEXT, "message_id": TEXT},
        {"name": "n", "data_type": "boolean", "value": True},
    ),
    ("POST", "/v1/files/attachments/generate-presigned-upload-url", {"filename": TEXT}, {}),
    ("POST", "/v1/files/attachments/generate-presigned-download-url", {"key": TEXT}, {}),
    ("POST", "/v1/traces", {"resourceSpans": st.lists(st.dictionaries(TEXT, TEXT, max_size=2), max_size=2)}, {}),
]
ENDPOINTS = [("api", *e) for e in API] + [("cloud", *e) for e in CLOUD]


@pytest.fixture
def callers(make_token: Any, settings: Any) -> dict[str, Any]:
    settings.CLOUD = {"ANONYMOUS_ENABLED": True}
    workspace = Workspace("user_fuzz")
    thread = services.thread_create(workspace=workspace, title="fuzz")
    services.message_append(thread=thread, format="f", content={"role": "user"}, message_id="m1")
    api, cloud = APIClient(), APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {make_token('user_fuzz')}")
    cloud.credentials(HTTP_AUTHORIZATION=f"Bearer {mint(workspace)}")
    return {"api": api, "cloud": cloud, "thread": thread.id}


def _check(response: Any) -> None:
    assert response.status_code < 500, response.content[:500]
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body.get("error"), str) and isinstance(body.get("message"), str) and body["message"]


@pytest.mark.parametrize(("face", "method", "path", "fields", "rest"), ENDPOINTS, ids=lambda v: str(v)[:40])
def test_no_string_or_timestamp_in_any_field_gives_a_500(callers, face, method, path, fields, rest):
    client: APIClient = callers[face]
    url = path.format(thread=callers["thread"])

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(st.fixed_dictionaries(fields))
    def run(values: dict[str, Any]) -> None:
        body = {k: (callers["thread"] if v == "{thread}" else v) for k, v in rest.items()} | values
        response = getattr(client, method.lower())(url, json.dumps(body), content_type="application/json")
        _check(response)

    run()
    lists = ["/api/threads", f"/api/threads/{callers['thread']}/messages"] if face == "api" else ["/v1/threads"]
    for listing in lists:
        assert client.get(listing).status_code == 200
