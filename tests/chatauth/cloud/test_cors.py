"""CORS on /v1: configured origins only; Authorization, Content-Type and Aui-* allowed; Authorization exposed."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

ORIGIN = "http://app.example.test"


def preflight(origin: str, headers: str = "authorization,content-type,aui-user-id,aui-workspace-id,aui-sdk") -> Any:
    return Client().options(
        "/v1/threads",
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS=headers,
    )


def test_preflight_from_configured_origin_is_answered(cloud: Any) -> None:
    response = preflight(ORIGIN)
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    allowed = {h.strip() for h in response["Access-Control-Allow-Headers"].split(",")}
    assert allowed == {"authorization", "content-type", "aui-user-id", "aui-workspace-id", "aui-sdk"}
    assert "PUT" in response["Access-Control-Allow-Methods"] and "Access-Control-Allow-Credentials" not in response


def test_preflight_from_other_origin_is_refused(cloud: Any) -> None:
    response = preflight("https://evil.example")
    assert response.status_code == 403 and "Access-Control-Allow-Origin" not in response
    assert response.json()["error"] == "cors_origin_not_allowed"


def test_preflight_asking_for_other_headers_is_refused(cloud: Any) -> None:
    response = preflight(ORIGIN, "authorization,x-custom")
    assert response.status_code == 403 and "x-custom" in response.json()["message"]


def test_actual_response_exposes_authorization_to_allowed_origin(ws_client: Any) -> None:
    response = ws_client("user_1").get("/v1/threads", HTTP_ORIGIN=ORIGIN)
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert response["Access-Control-Expose-Headers"] == "Authorization"
    assert "Origin" in response["Vary"]


def test_error_responses_carry_cors_headers_too(cloud: Any) -> None:
    response = Client().get("/v1/threads", HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 401 and response["Access-Control-Allow-Origin"] == ORIGIN


def test_other_origins_get_no_cors_headers(ws_client: Any) -> None:
    response = ws_client("user_1").get("/v1/threads", HTTP_ORIGIN="https://evil.example")
    assert "Access-Control-Allow-Origin" not in response


def test_paths_outside_the_api_faces_are_untouched(cloud: Any) -> None:
    response = Client().get("/healthz", HTTP_ORIGIN=ORIGIN)
    assert "Access-Control-Allow-Origin" not in response


def test_no_origins_configured_means_no_cors(settings: Any) -> None:
    settings.CLOUD = {}
    assert preflight(ORIGIN).status_code == 403
