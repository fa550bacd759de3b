"""The threads API over real HTTP: uvicorn on loopback, httpx as the client."""

from __future__ import annotations

import httpx


def test_a_signed_in_client_creates_lists_and_reads_back_over_http(live_server_url, make_token):
    headers = {"Authorization": f"Bearer {make_token('user_http')}"}
    with httpx.Client(base_url=live_server_url, headers=headers, timeout=10) as http:
        created = http.post("/api/threads", json={"title": "over the wire"})
        assert created.status_code == 201
        thread_id = created.json()["id"]
        appended = http.post(
            f"/api/threads/{thread_id}/messages",
            json={"id": "m1", "format": "ai-sdk/v6", "content": {"role": "user", "parts": []}},
        )
        assert appended.status_code == 201
        listed = http.get("/api/threads").json()["threads"]
        assert [t["id"] for t in listed] == [thread_id]
        assert http.get(f"/api/threads/{thread_id}/messages").json()["messages"][0]["id"] == "m1"


def test_signed_out_over_http_is_401_json(live_server_url):
    response = httpx.get(f"{live_server_url}/api/threads", timeout=10)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert response.headers["www-authenticate"].startswith("Bearer")
