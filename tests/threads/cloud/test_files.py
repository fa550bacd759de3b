"""`/v1/files`: the one attachment store, on the local filesystem and on a real S3-compatible server (moto in
server mode on loopback, over real HTTP). Scoping, signed URLs, type/size/quota limits, deletion, export."""

from __future__ import annotations

import io
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c63f8ffff3f0005fe02fe"
    "a7d6a4c80000000049454e44ae426082"
)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
GIF = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 20
WEBP = b"RIFF\x1a\x00\x00\x00WEBPVP8 " + b"\x00" * 14


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A moto S3 server on a free loopback port (its real HTTP server; no in-process mocking)."""
    pytest.importorskip("moto.server")
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(params=["filesystem", "s3"])
def store(request: Any, settings: Any, tmp_path: Path) -> str:
    settings.ATTACHMENTS = {"URL_TTL_SECONDS": 60, "MAX_BYTES": 4096, "WORKSPACE_QUOTA_BYTES": 10_000}
    if request.param == "filesystem":
        location = {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}}
    else:
        import boto3

        endpoint = request.getfixturevalue("moto_endpoint")
        bucket = f"attachments-{time.monotonic_ns()}"
        boto3.client(
            "s3", endpoint_url=endpoint, aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
        ).create_bucket(Bucket=bucket)
        location = {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                "endpoint_url": endpoint,
                "access_key": "test",
                "secret_key": "test",
                "region_name": "us-east-1",
                "addressing_style": "path",
                "signature_version": "s3v4",
                "file_overwrite": False,
            },
        }
    settings.STORAGES = {**settings.STORAGES, "attachments": location}
    return request.param


def upload_url(client: APIClient, filename: str) -> dict[str, Any]:
    response = client.post("/v1/files/attachments/generate-presigned-upload-url", {"filename": filename}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def put(url: str, data: bytes, content_type: str) -> tuple[int, dict[str, Any]]:
    """PUT to a presigned URL: the service's own (Django test client) or the S3 server's (real HTTP)."""
    parts = urlsplit(url)
    if parts.path.startswith("/v1/files/blob/"):
        response = APIClient().generic("PUT", f"{parts.path}?{parts.query}", data, content_type=content_type)
        return response.status_code, (response.json() if response.content else {})
    r = httpx.put(url, content=data, headers={"Content-Type": content_type})
    return r.status_code, {}


def get(url: str) -> tuple[int, bytes, dict[str, str]]:
    parts = urlsplit(url)
    if parts.path.startswith("/v1/files/blob/"):
        response = APIClient().get(f"{parts.path}?{parts.query}")
        body = b"".join(response) if response.streaming else response.content
        return response.status_code, body, dict(response.headers)
    r = httpx.get(url)
    return r.status_code, r.content, dict(r.headers)


def download_url(client: APIClient, **body: str) -> Any:
    return client.post("/v1/files/attachments/generate-presigned-download-url", body, format="json")


def uploaded(client: APIClient, filename: str = "pixel.png", data: bytes = PNG, kind: str = "image/png") -> dict:
    up = upload_url(client, filename)
    status, _ = put(up["signedUrl"], data, kind)
    assert status == 200
    return up


@pytest.mark.parametrize(
    ("filename", "data", "kind"),
    [
        ("pixel.png", PNG, "image/png"),
        ("doc.pdf", PDF, "application/pdf"),
        ("a.gif", GIF, "image/gif"),
        ("p.JPG", JPEG, "image/jpeg"),
        ("w.webp", WEBP, "image/webp"),
        ("notes.txt", "plain ✓ text\n".encode(), "text/plain"),
    ],
)
def test_upload_then_download_every_allowed_type(
    store: str, alice_ws: APIClient, filename: str, data: bytes, kind: str
) -> None:
    up = uploaded(alice_ws, filename, data, kind)
    assert up["success"] is True and up["key"].startswith("file_") and up["expiresAt"].endswith("Z")
    response = download_url(alice_ws, key=up["key"])
    assert response.status_code == 200 and response.json()["key"] == up["key"]
    status, body, headers = get(response.json()["signedUrl"])
    assert status == 200 and body == data
    assert {k.lower(): v for k, v in headers.items()}["content-type"].startswith(kind)
    assert download_url(alice_ws, url=up["publicUrl"]).json()["key"] == up["key"]
    public = alice_ws.get(urlsplit(up["publicUrl"]).path)
    assert public.status_code == 200 and b"".join(public) == data


def test_another_workspace_gets_404_everywhere(store: str, alice_ws: APIClient, bob_ws: APIClient) -> None:
    up = uploaded(alice_ws)
    assert download_url(bob_ws, key=up["key"]).status_code == 404
    assert download_url(bob_ws, url=up["publicUrl"]).json() == {"error": "not_found", "message": "File not found."}
    assert bob_ws.get(urlsplit(up["publicUrl"]).path).status_code == 404
    assert download_url(bob_ws, key="file_AAAAAAAAAAAAAAAAAAAAAA").status_code == 404


def test_bytes_that_are_not_what_the_name_says_are_refused(store: str, alice_ws: APIClient) -> None:
    from threads.models import Attachment

    up = upload_url(alice_ws, "fake.png")
    status, body = put(up["signedUrl"], b"%PDF-1.4 not a png", "image/png")
    if store == "filesystem":
        assert status == 415 and body["error"] == "content_type_mismatch"
        assert download_url(alice_ws, key=up["key"]).status_code == 409
    else:  # the store took the bytes; the service checks them before the first download URL, and deletes them
        assert status == 200
        response = download_url(alice_ws, key=up["key"])
        assert response.status_code == 415 and response.json()["error"] == "content_type_mismatch"
        assert Attachment.unscoped_for_operators.get(id=up["key"]).status == "rejected"
        from threads.files import storage

        assert not storage().exists(Attachment.unscoped_for_operators.get(id=up["key"]).storage_key)


@pytest.mark.parametrize("filename", ["tool.exe", "noext", "archive.zip", "page.html", "../x.png", ""])
def test_unsupported_names_are_4xx(store: str, alice_ws: APIClient, filename: str) -> None:
    response = alice_ws.post(
        "/v1/files/attachments/generate-presigned-upload-url", {"filename": filename}, format="json"
    )
    assert response.status_code in (400, 415) and {"error", "message"} <= set(response.json())


def test_size_and_quota_limits(store: str, alice_ws: APIClient, settings: Any) -> None:
    up = upload_url(alice_ws, "big.txt")
    status, body = put(up["signedUrl"], b"x" * 5000, "text/plain")
    if store == "filesystem":
        assert status == 413 and body["error"] == "file_too_large"
    else:
        assert status == 200 and download_url(alice_ws, key=up["key"]).json()["error"] == "file_too_large"
    for _ in range(2):  # on S3 a file counts once checked, which the first download URL does
        assert (
            download_url(alice_ws, key=uploaded(alice_ws, "a.txt", b"y" * 4000, "text/plain")["key"]).status_code == 200
        )
    over = upload_url(alice_ws, "c.txt")
    status, body = put(over["signedUrl"], b"z" * 4000, "text/plain")
    if store == "filesystem":
        assert status == 403 and body["error"] == "quota_exceeded"
    else:
        assert download_url(alice_ws, key=over["key"]).json()["error"] == "quota_exceeded"
    settings.ATTACHMENTS = {**settings.ATTACHMENTS, "WORKSPACE_MAX_FILES": 1}
    refused = alice_ws.post("/v1/files/attachments/generate-presigned-upload-url", {"filename": "d.txt"}, format="json")
    assert refused.status_code == 403 and refused.json()["error"] == "quota_exceeded"


def _local_url(alice_ws: APIClient) -> tuple[dict[str, Any], str]:
    up = upload_url(alice_ws, "pixel.png")
    parts = urlsplit(up["signedUrl"])
    return up, f"{parts.path}?{parts.query}"


def test_tampered_reused_or_expired_local_urls_are_refused(store: str, alice_ws: APIClient, settings: Any) -> None:
    if store != "filesystem":
        pytest.skip("signed local URLs exist only for the filesystem store")
    up, url = _local_url(alice_ws)
    anon = APIClient()
    tampered = url.replace("signature=", "signature=0")[:-1]
    assert anon.generic("PUT", tampered, PNG, content_type="image/png").json()["error"] == "invalid_signature"
    other_ws = url.replace("ws=org_1%3Auser_alice", "ws=org_1%3Auser_bob")
    assert anon.generic("PUT", other_ws, PNG, content_type="image/png").status_code == 403
    assert anon.get(url).status_code == 403  # a PUT signature does not sign a GET
    assert anon.generic("PUT", url, PNG, content_type="image/png").status_code == 200
    again = anon.generic("PUT", url, PNG, content_type="image/png")
    assert again.status_code == 409 and again.json()["error"] == "already_uploaded"
    settings.ATTACHMENTS = {**settings.ATTACHMENTS, "URL_TTL_SECONDS": -1}
    late = urlsplit(download_url(alice_ws, key=up["key"]).json()["signedUrl"])
    expired = anon.get(f"{late.path}?{late.query}")
    assert expired.status_code == 403 and expired.json()["error"] == "url_expired"
    assert anon.get(url.split("?")[0]).json()["error"] == "invalid_signature"


def test_files_go_with_their_thread_and_with_the_user(
    store: str, alice_ws: APIClient, django_capture_on_commit_callbacks: Any
) -> None:
    from threads.files import storage
    from threads.models import Attachment
    from threads.portability import Selection, delete_threads

    thread_id = alice_ws.post("/v1/threads", {"last_message_at": "2026-01-01T00:00:00.000Z"}, format="json").json()[
        "thread_id"
    ]
    attached = uploaded(alice_ws)
    content = {"role": "user", "content": [{"type": "image", "image": attached["publicUrl"]}], "metadata": {}}
    assert (
        alice_ws.post(
            f"/v1/threads/{thread_id}/messages",
            {"parent_id": None, "format": "aui/v0", "content": content},
            format="json",
        ).status_code
        == 201
    )
    row = Attachment.unscoped_for_operators.get(id=attached["key"])
    assert row.thread_id == thread_id and storage().exists(row.storage_key)
    loose = Attachment.unscoped_for_operators.get(id=uploaded(alice_ws, "n.txt", b"loose", "text/plain")["key"])

    with django_capture_on_commit_callbacks(execute=True):
        assert alice_ws.delete(f"/v1/threads/{thread_id}").status_code == 204
    assert not Attachment.unscoped_for_operators.filter(id=attached["key"]).exists()
    assert not storage().exists(row.storage_key)

    with django_capture_on_commit_callbacks(execute=True):
        counts = delete_threads(Selection(user_id="user_alice"))
    assert counts.files == 1 and not storage().exists(loose.storage_key)
    assert not Attachment.unscoped_for_operators.exists()


def test_export_and_import_carry_attached_files(store: str, alice_ws: APIClient) -> None:
    from threads.files import storage
    from threads.models import Attachment
    from threads.portability import Selection, delete_threads, export_threads
    from threads.restore import import_threads, read_export

    thread_id = alice_ws.post("/v1/threads", {"last_message_at": "2026-01-01T00:00:00.000Z"}, format="json").json()[
        "thread_id"
    ]
    up = uploaded(alice_ws)
    content = {"role": "user", "content": [{"type": "file", "data": up["key"]}], "metadata": {}}
    alice_ws.post(
        f"/v1/threads/{thread_id}/messages", {"parent_id": None, "format": "aui/v0", "content": content}, format="json"
    )
    out = io.StringIO()
    counts = export_threads(Selection(user_id="user_alice"), out)
    assert counts.files == 1
    delete_threads(Selection(user_id="user_alice"))
    assert not Attachment.unscoped_for_operators.exists()
    restored = import_threads(read_export(out.getvalue()))
    assert restored.files == 1
    row = Attachment.unscoped_for_operators.get(id=up["key"])
    assert row.thread_id == thread_id and row.workspace_key == "org_1:user_alice"
    with storage().open(row.storage_key, "rb") as handle:
        assert handle.read() == PNG
    status, body, _ = get(download_url(alice_ws, key=up["key"]).json()["signedUrl"])
    assert status == 200 and body == PNG


def test_bad_bodies_are_400(store: str, alice_ws: APIClient) -> None:
    for body in ({}, {"filename": 3}, {"filename": "a.png", "extra": 1}):
        response = alice_ws.post("/v1/files/attachments/generate-presigned-upload-url", body, format="json")
        assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    for body in ({}, {"key": "a", "url": "b"}, {"key": 5}):
        response = (
            download_url(alice_ws, **body)
            if all(isinstance(v, str) for v in body.values())
            else alice_ws.post("/v1/files/attachments/generate-presigned-download-url", body, format="json")
        )
        assert response.status_code == 400


def test_pdf_to_images_is_404_like_the_hosted_service(alice_ws: APIClient) -> None:
    response = alice_ws.post("/v1/files/pdf-to-images", {"file_url": "https://x.test/a.pdf"}, format="json")
    assert response.status_code == 404 and response.json()["error"] == "not_found"


def test_a_claim_moves_the_identitys_files(store: str, ws_client: Any) -> None:
    from django.db import transaction

    from chatauth.caller import Workspace
    from threads.cloud.services import threads_move

    anon = ws_client("user_mover")
    up = uploaded(anon)
    with transaction.atomic():
        threads_move(source=Workspace("user_mover"), target=Workspace("user_claimer", "org_2"))
    assert download_url(anon, key=up["key"]).status_code == 404
    claimer = ws_client("user_claimer", org="org_2")
    status, body, _ = get(download_url(claimer, key=up["key"]).json()["signedUrl"])
    assert status == 200 and body == PNG
