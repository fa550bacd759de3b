"""The OpenAPI document and the docs page: public, complete for the threads API, and fully offline."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema() -> dict:
    response = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return json.loads(response.content)


def test_schema_is_openapi_3(schema):
    assert schema["openapi"].startswith("3.")


def test_schema_lists_every_threads_operation(schema):
    paths = schema["paths"]
    assert set(paths["/api/threads"]) >= {"get", "post"}
    assert set(paths["/api/threads/{thread_id}"]) >= {"get", "patch", "delete"}
    assert set(paths["/api/threads/{thread_id}/messages"]) >= {"get", "post"}
    assert set(paths["/api/threads/{thread_id}/messages/{message_id}"]) >= {"get", "patch"}


def test_schema_documents_the_message_row_and_bearer_auth(schema):
    row = schema["components"]["schemas"]["Message"]["properties"]
    assert set(row) == {"id", "parent_id", "height", "format", "content", "status", "created_at", "updated_at"}
    assert schema["components"]["securitySchemes"]["clerkSession"]["scheme"] == "bearer"


def test_schema_ignores_a_bad_token():
    response = Client(HTTP_AUTHORIZATION="Bearer garbage").get("/api/schema/")
    assert response.status_code == 200


def test_docs_page_loads_only_local_assets():
    response = Client().get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources, "the page references its assets"
    assert all(s.startswith("/") for s in sources), sources
    assert "/api/schema/" in html
    for source in sources:
        asset = Client().get(source)
        assert asset.status_code == 200, source
        assert b"".join(asset.streaming_content)


def test_docs_assets_outside_the_allow_list_are_404():
    assert Client().get("/api/docs/assets/LICENSE").status_code == 404
    assert Client().get("/api/docs/assets/..%2F..%2F__init__.py").status_code == 404
