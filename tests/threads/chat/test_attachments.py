"""AI SDK file parts on `/api/chat`: images and PDFs reach the model in the OpenAI format, read from the
workspace's attachment store; the history holds the file's URL; every refusal is a JSON 4xx that writes nothing."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from chatauth.caller import Workspace
from tests.support.chat import chat_body
from tests.support.isolation import REDIS_URL
from tests.support.node import needs_npm
from tests.support.openai_server import OpenAIServer, Reply
from tests.support.paths import NODE_DIR
from tests.support.redis_server import redis_up
from tests.threads.cloud.test_files import moto_endpoint  # noqa: F401 - the loopback S3 server fixture
from threads import files, services
from threads.models import Attachment, Message, Thread

pytestmark = pytest.mark.django_db(transaction=True)

USER = "user_files"
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c63f8ffff3f0005fe02fe"
    "a7d6a4c80000000049454e44ae426082"
)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
NEEDS_NODE = needs_npm("ai")


def data_url(data: bytes, media_type: str) -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode()}"


def file_message(*file_parts: dict[str, Any], text: str = "What is this?", message_id: str = "msg_f1") -> dict:
    return {"id": message_id, "role": "user", "parts": [{"type": "text", "text": text}, *file_parts]}


def file_part(url: str, media_type: str = "image/png", filename: str | None = "dot.png") -> dict[str, Any]:
    part = {"type": "file", "mediaType": media_type, "url": url}
    return {**part, "filename": filename} if filename else part


@pytest.fixture
def store(settings: Any, tmp_path: Path, chat_on: OpenAIServer) -> Path:
    """The attachment store on a temporary directory, with small limits; the chat endpoint on the loopback model."""
    local = {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}}
    settings.STORAGES = {**settings.STORAGES, "attachments": local}
    settings.ATTACHMENTS = {"MAX_BYTES": 4096, "WORKSPACE_QUOTA_BYTES": 100_000}
    return tmp_path


def _stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def _uploaded(user: str, data: bytes, filename: str) -> Attachment:
    """A file uploaded to `user`'s workspace the way /v1 clients do (presigned URL, then the bytes)."""
    attachment, _ = files.create_upload(workspace=Workspace(user_id=user), filename=filename, base_url="http://x/")
    return files.store_upload(attachment=attachment, stream=io.BytesIO(data), declared_length=len(data))


def _user_content(server: OpenAIServer) -> list[dict[str, Any]]:
    (request,) = server.chat_requests
    return next(m for m in request["body"]["messages"] if m["role"] == "user")["content"]


def _nothing_written(root: Path) -> None:
    assert Attachment.unscoped_for_operators.count() == 0
    assert _stored_files(root) == []
    assert not Thread.unscoped_for_operators.exists()


@NEEDS_NODE
@pytest.mark.node
def test_ai_client_image_reaches_the_model_as_image_url_and_the_history_shows_the_file(
    store: Path, chat_on: OpenAIServer, live_server_url: str, make_token: Callable[..., str]
) -> None:
    chat_on.script(Reply(deltas=["A dot."]), Reply(deltas=["A title"]))
    parts = [{"type": "file", "mediaType": "image/png", "filename": "dot.png", "url": data_url(PNG, "image/png")}]
    argv = ["node", str(NODE_DIR / "ai_chat_files.mjs"), live_server_url, make_token(USER), "thread_img"]
    result = subprocess.run(
        [*argv, json.dumps(parts), "What is this?"], capture_output=True, text=True, timeout=120, cwd=NODE_DIR
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["errors"] == []
    assert out["messages"][-1]["parts"][-1]["text"] == "A dot."

    # The model got the image in the OpenAI format, as bytes (a data URL), next to the text (`ai` puts files first).
    assert _user_content(chat_on) == [
        {"type": "image_url", "image_url": {"url": data_url(PNG, "image/png")}},
        {"type": "text", "text": "What is this?"},
    ]
    # The saved message holds the file's address on this service, not the base64; a reload shows it.
    (attachment,) = Attachment.objects.for_workspace(Workspace(user_id=USER))
    user_row = next(m for m in out["reload"]["messages"] if m["content"]["role"] == "user")
    assert user_row["content"]["parts"][0] == {
        "type": "file",
        "mediaType": "image/png",
        "filename": "dot.png",
        "url": f"{live_server_url}/v1/files/attachments/{attachment.id}",
    }
    assert attachment.thread_id == "thread_img" and attachment.size == len(PNG)
    assert files.read_bytes(attachment) == PNG


@NEEDS_NODE
@pytest.mark.node
def test_regenerating_a_message_with_an_image_answers_it_again_without_a_second_file(
    store: Path, chat_on: OpenAIServer, live_server_url: str, make_token: Callable[..., str]
) -> None:
    chat_on.script(Reply(deltas=["One."]), Reply(deltas=["A title"], stream=False), Reply(deltas=["Two."], stream=True))
    parts = [{"type": "file", "mediaType": "image/png", "filename": "dot.png", "url": data_url(PNG, "image/png")}]
    argv = ["node", str(NODE_DIR / "ai_chat_files.mjs"), live_server_url, make_token(USER), "thread_regen"]
    result = subprocess.run(
        [*argv, json.dumps(parts), "Again?", "regenerate"], capture_output=True, text=True, timeout=120, cwd=NODE_DIR
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["errors"] == []
    assert Attachment.unscoped_for_operators.count() == 1
    rows = json.loads(result.stdout)["reload"]["messages"]
    assert [r["content"]["role"] for r in rows].count("user") == 1  # a regeneration, not an edit
    assert len(chat_on.chat_requests) == 2


def test_a_pdf_reaches_the_model_as_a_file_part_with_its_name(store: Path, chat_on: OpenAIServer, post_chat) -> None:
    chat_on.script(Reply(deltas=["A PDF."]))
    pdf = file_part(data_url(PDF, "application/pdf"), "application/pdf", "report.pdf")
    response = post_chat(chat_body("thread_pdf", file_message(pdf)), user=USER)
    assert response.status_code == 200
    assert _user_content(chat_on)[1] == {
        "type": "file",
        "file": {"filename": "report.pdf", "file_data": data_url(PDF, "application/pdf")},
    }


def test_a_file_of_the_workspace_by_its_url_is_sent_as_bytes_and_attached_to_the_thread(
    store: Path, chat_on: OpenAIServer, post_chat: Callable[..., httpx.Response], live_server_url: str
) -> None:
    chat_on.script(Reply(deltas=["Seen."]))
    attachment = _uploaded(USER, PNG, "dot.png")
    part = file_part(f"{live_server_url}/v1/files/attachments/{attachment.id}", filename=None)
    assert post_chat(chat_body("thread_url", file_message(part)), user=USER).status_code == 200
    assert _user_content(chat_on)[1] == {"type": "image_url", "image_url": {"url": data_url(PNG, "image/png")}}
    attachment.refresh_from_db()
    assert attachment.thread_id == "thread_url"
    saved = services.message_get(
        thread=services.thread_get(workspace=Workspace(user_id=USER), thread_id="thread_url"), message_id="msg_f1"
    )
    assert saved.content["parts"][1]["filename"] == "dot.png"


def test_another_workspaces_file_is_a_404_and_nothing_is_written(
    store: Path, chat_on: OpenAIServer, post_chat: Callable[..., httpx.Response], live_server_url: str
) -> None:
    theirs = _uploaded("user_other", PNG, "dot.png")
    part = file_part(f"{live_server_url}/v1/files/attachments/{theirs.id}")
    response = post_chat(chat_body("thread_foreign", file_message(part)), user=USER)
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "message": "messages[0].parts[1]: File not found."}
    assert chat_on.requests == []
    assert not Thread.unscoped_for_operators.exists()
    theirs.refresh_from_db()
    assert theirs.thread_id is None


@pytest.mark.parametrize(
    "part, status, code",
    [
        (file_part(data_url(PNG * 100, "image/png")), 413, "file_too_large"),
        (file_part(data_url(b"\x00\x01binary", "image/png")), 415, "unsupported_file_type"),
        (file_part(data_url(PDF, "image/png")), 415, "content_type_mismatch"),
        (file_part(data_url(PNG, "image/jpeg"), "image/png"), 415, "content_type_mismatch"),
        (file_part("data:image/png,not-base64"), 400, "invalid_data_url"),
        (file_part("data:image/png;base64,%%%"), 400, "invalid_data_url"),
        (file_part("data:image/png;base64,"), 400, "empty_file"),
        (file_part("https://images.example.com/cat.png"), 400, "unsupported_file_url"),
        (file_part("file:///etc/passwd"), 400, "unsupported_file_url"),
    ],
)
def test_a_bad_file_part_is_a_json_4xx_that_writes_nothing(
    store: Path, chat_on: OpenAIServer, post_chat: Callable[..., httpx.Response], part: dict, status: int, code: str
) -> None:
    good = file_part(data_url(PNG, "image/png"))  # stored only if the whole request is accepted
    response = post_chat(chat_body("thread_bad", file_message(good, part)), user=USER)
    assert response.status_code == status
    assert response.json()["error"] == code
    assert response.json()["message"].startswith("messages[0].parts[2]: ")
    assert chat_on.requests == []
    _nothing_written(store)


def test_a_type_left_out_of_the_allowed_types_is_refused(
    settings: Any, store: Path, chat_on: OpenAIServer, post_chat: Callable[..., httpx.Response]
) -> None:
    settings.ATTACHMENTS = {**settings.ATTACHMENTS, "ALLOWED_TYPES": ["image/png"]}
    pdf = file_part(data_url(PDF, "application/pdf"), "application/pdf", "a.pdf")
    response = post_chat(chat_body("thread_types", file_message(pdf)), user=USER)
    assert (response.status_code, response.json()["error"]) == (415, "unsupported_file_type")
    _nothing_written(store)


def test_a_malformed_file_part_is_an_invalid_request(store: Path, chat_on: OpenAIServer, post_chat) -> None:
    part = {"type": "file", "url": data_url(PNG, "image/png")}  # no mediaType
    response = post_chat(chat_body("thread_shape", file_message(part)), user=USER)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request" and "messages[0].parts[1]" in response.json()["message"]


def test_a_workspace_over_its_quota_gets_403_and_no_turn(
    settings: Any, store: Path, chat_on: OpenAIServer, post_chat: Callable[..., httpx.Response]
) -> None:
    settings.ATTACHMENTS = {**settings.ATTACHMENTS, "WORKSPACE_QUOTA_BYTES": len(PNG) - 1}
    response = post_chat(chat_body("thread_quota", file_message(file_part(data_url(PNG, "image/png")))), user=USER)
    assert (response.status_code, response.json()["error"]) == (403, "quota_exceeded")
    assert chat_on.requests == []
    assert Attachment.unscoped_for_operators.count() == 0 and _stored_files(store) == []
    assert not Message.unscoped_for_operators.exists()


def test_a_type_the_model_does_not_read_is_sent_as_a_note_by_default(
    settings: Any, store: Path, chat_on: OpenAIServer, post_chat: Callable[..., httpx.Response]
) -> None:
    settings.ATTACHMENTS = {**settings.ATTACHMENTS, "MODEL_TYPES": ["image/png"]}
    chat_on.script(Reply(deltas=["I cannot read it."]))
    pdf = file_part(data_url(PDF, "application/pdf"), "application/pdf", "report.pdf")
    assert post_chat(chat_body("thread_note", file_message(pdf)), user=USER).status_code == 200
    assert _user_content(chat_on)[1] == {
        "type": "text",
        "text": "[The user attached report.pdf (application/pdf); this model cannot read files of this type.]",
    }


def test_refuse_mode_refuses_a_new_file_the_model_does_not_read(
    settings: Any, store: Path, chat_on: OpenAIServer, post_chat: Callable[..., httpx.Response]
) -> None:
    settings.ATTACHMENTS = {**settings.ATTACHMENTS, "MODEL_TYPES": ["image/png"], "UNSUPPORTED_BY_MODEL": "refuse"}
    pdf = file_part(data_url(PDF, "application/pdf"), "application/pdf", "report.pdf")
    response = post_chat(chat_body("thread_refuse", file_message(pdf)), user=USER)
    assert (response.status_code, response.json()["error"]) == (400, "file_not_supported_by_model")
    _nothing_written(store)


def test_deleting_the_thread_deletes_its_chat_files(
    store: Path, chat_on: OpenAIServer, post_chat: Callable[..., httpx.Response], client_for: Callable[..., Any]
) -> None:
    chat_on.script(Reply(deltas=["Ok."]))
    assert post_chat(chat_body("thread_gone", file_message(file_part(data_url(PNG, "image/png")))), user=USER)
    assert len(_stored_files(store)) == 1
    assert client_for(USER).delete("/api/threads/thread_gone").status_code == 204
    assert Attachment.unscoped_for_operators.count() == 0
    assert _stored_files(store) == []


@pytest.mark.skipif(not redis_up(REDIS_URL), reason=f"resumable mode needs Redis ({REDIS_URL})")
def test_a_server_owned_generation_sends_the_image_and_keeps_the_file(
    store: Path, resumable: OpenAIServer, post_chat: Callable[..., httpx.Response], live_server_url: str
) -> None:
    resumable.script(Reply(deltas=["Red."]))
    response = post_chat(chat_body("thread_res", file_message(file_part(data_url(PNG, "image/png")))), user=USER)
    assert response.status_code == 200 and response.text.rstrip().endswith("data: [DONE]")
    assert _user_content(resumable)[1] == {"type": "image_url", "image_url": {"url": data_url(PNG, "image/png")}}
    (attachment,) = Attachment.objects.for_workspace(Workspace(user_id=USER))
    assert attachment.thread_id == "thread_res"


@pytest.mark.skipif(not redis_up(REDIS_URL), reason=f"resumable mode needs Redis ({REDIS_URL})")
def test_a_server_owned_turn_over_quota_leaves_no_thread_and_no_bytes(
    settings: Any, store: Path, resumable: OpenAIServer, post_chat: Callable[..., httpx.Response]
) -> None:
    settings.ATTACHMENTS = {**settings.ATTACHMENTS, "WORKSPACE_QUOTA_BYTES": len(PNG) - 1}
    response = post_chat(chat_body("thread_res_q", file_message(file_part(data_url(PNG, "image/png")))), user=USER)
    assert (response.status_code, response.json()["error"]) == (403, "quota_exceeded")
    assert resumable.requests == []
    _nothing_written(store)


@pytest.fixture
def s3_store(request: pytest.FixtureRequest, settings: Any, chat_on: OpenAIServer) -> str:
    """The attachment store on a real S3-compatible server (moto in server mode, on loopback)."""
    import boto3

    endpoint = request.getfixturevalue("moto_endpoint")

    bucket = f"chat-files-{time.monotonic_ns()}"
    boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id="t", aws_secret_access_key="t", region_name="us-east-1"
    ).create_bucket(Bucket=bucket)
    options = {"bucket_name": bucket, "endpoint_url": endpoint, "access_key": "t", "secret_key": "t"}
    options |= {"region_name": "us-east-1", "addressing_style": "path", "signature_version": "s3v4"}
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options},
    }
    settings.ATTACHMENTS = {"MAX_BYTES": 4096, "WORKSPACE_QUOTA_BYTES": 100_000}
    return bucket


def test_on_s3_a_data_url_is_stored_in_the_bucket_and_sent_to_the_model(
    s3_store: str, chat_on: OpenAIServer, post_chat: Callable[..., httpx.Response]
) -> None:
    chat_on.script(Reply(deltas=["A PDF."]))
    pdf = file_part(data_url(PDF, "application/pdf"), "application/pdf", "report.pdf")
    assert post_chat(chat_body("thread_s3", file_message(pdf)), user=USER).status_code == 200
    assert _user_content(chat_on)[1]["file"]["file_data"] == data_url(PDF, "application/pdf")
    (attachment,) = Attachment.objects.for_workspace(Workspace(user_id=USER))
    assert files.storage().exists(attachment.storage_key) and files.read_bytes(attachment) == PDF


def test_on_s3_an_upload_that_bypassed_the_service_is_checked_before_the_model_sees_it(
    s3_store: str, chat_on: OpenAIServer, post_chat: Callable[..., httpx.Response], live_server_url: str
) -> None:
    chat_on.script(Reply(deltas=["Seen."]))
    workspace = Workspace(user_id=USER)
    good, good_url = files.create_upload(workspace=workspace, filename="dot.png", base_url=live_server_url)
    bad, bad_url = files.create_upload(workspace=workspace, filename="fake.png", base_url=live_server_url)
    for url, data in ((good_url.url, PNG), (bad_url.url, b"not a png")):  # straight to the bucket
        assert httpx.put(url, content=data, headers={"Content-Type": "image/png"}).status_code == 200
    refused = post_chat(
        chat_body("thread_s3_bad", file_message(file_part(files.public_url(live_server_url, bad)))), user=USER
    )
    assert (refused.status_code, refused.json()["error"]) == (415, "content_type_mismatch")
    accepted = post_chat(
        chat_body("thread_s3_ok", file_message(file_part(files.public_url(live_server_url, good)))), user=USER
    )
    assert accepted.status_code == 200
    assert _user_content(chat_on)[1] == {"type": "image_url", "image_url": {"url": data_url(PNG, "image/png")}}
