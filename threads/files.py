"""Attachments: one store for a workspace's files, through Django's storage API (`STORAGES["attachments"]`).

- Local filesystem (the default, `make run` needs nothing): upload and download URLs point at this service
  (`/v1/files/blob/<id>`) and carry an HMAC-SHA256 signature over (method, workspace, file id, expiry), checked
  with a constant-time compare; the service checks size, type (magic numbers) and quota as the bytes arrive.
- S3-compatible (`django-storages`): the URLs are the store's own presigned `put_object`/`get_object` URLs. The
  bytes bypass this service, so they are checked after the fact: before the first download URL is issued the
  object's size and first bytes are read back; a file that fails is deleted from the bucket and marked rejected.

Files are workspace-scoped like threads (another workspace's file is a 404). A file is attached to a thread
when a message of that thread names its id, and is deleted (row and bytes) with that thread.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages
from django.db import transaction
from django.db.models import Sum
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils import timezone

from chatauth.caller import Workspace
from config.appsettings import AppSettings
from threads.models import Attachment, Thread

DEFAULTS: dict[str, Any] = {
    # Largest accepted file, in bytes.
    "MAX_BYTES": 10 * 1024 * 1024,
    # Bytes of stored (ready or pending) files one workspace may hold.
    "WORKSPACE_QUOTA_BYTES": 200 * 1024 * 1024,
    # Files (of any status) one workspace may hold.
    "WORKSPACE_MAX_FILES": 1000,
    # Allowed types (checked from the bytes): png, jpeg, gif, webp, pdf, txt.
    "ALLOWED_TYPES": ["image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain"],
    # Lifetime of a presigned upload or download URL.
    "URL_TTL_SECONDS": 300,
    # The base URL presigned local URLs start with; empty = the request's own scheme and host.
    "PUBLIC_BASE_URL": "",
    # /api/chat file parts: at most this many in one message.
    "MAX_FILES_PER_MESSAGE": 10,
    # The types the chat model reads (images as `image_url`, PDFs as `file`, text inline); others get a note.
    "MODEL_TYPES": ["image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain"],
    # A new message with a file of a type the model does not read: "note" (sent with a note instead) or "refuse".
    "UNSUPPORTED_BY_MODEL": "note",
    # Bytes of files inlined into one model call (newest first); older files past it are sent as a note.
    "MODEL_MAX_BYTES": 20 * 1024 * 1024,
}

attachment_settings = AppSettings("ATTACHMENTS", DEFAULTS)

STORAGE_ALIAS = "attachments"
FILE_ID = re.compile(r"file_[A-Za-z0-9_-]{22}")
EXTENSIONS = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "pdf": "application/pdf",
    "txt": "text/plain",
    "text": "text/plain",
    "md": "text/plain",
}
SNIFF_BYTES = 4096


class FileError(Exception):
    """A refusal with an API error code, sentence and HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def storage() -> Storage:
    return storages[STORAGE_ALIAS]


def is_s3() -> bool:
    return settings.STORAGES.get(STORAGE_ALIAS, {}).get("BACKEND", "").startswith("storages.backends.s3")


# --- content checks -------------------------------------------------------------------------------------------


def sniff(head: bytes) -> str | None:
    """The content type these first bytes are, among the supported ones (plain text: valid UTF-8, no NUL)."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if b"\x00" not in head:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            # A multi-byte character cut at the end of the sample is still text.
            if exc.start < len(head) - 3:
                return None
        return "text/plain"
    return None


def type_of_filename(filename: str) -> str:
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    kind = EXTENSIONS.get(ext)
    if kind is None or kind not in attachment_settings.ALLOWED_TYPES:
        allowed = ", ".join(sorted(e for e, t in EXTENSIONS.items() if t in attachment_settings.ALLOWED_TYPES))
        raise FileError("unsupported_file_type", f"Files of this type are not accepted (allowed: {allowed}).", 415)
    return kind


def check_bytes(attachment: Attachment, head: bytes, size: int) -> None:
    if size > attachment_settings.MAX_BYTES:
        raise FileError("file_too_large", f"The file is over {attachment_settings.MAX_BYTES} bytes.", 413)
    if size == 0:
        raise FileError("empty_file", "The file is empty.")
    found = sniff(head)
    if found is None or found != attachment.content_type:
        raise FileError(
            "content_type_mismatch", f"The bytes are not {attachment.content_type} (as the file name says).", 415
        )


# --- signing (local store) ------------------------------------------------------------------------------------


def _signing_key() -> bytes:
    return hmac.new(settings.SECRET_KEY.encode(), b"threads.files.presigned-url", hashlib.sha256).digest()


def sign(*, method: str, workspace_key: str, file_id: str, expires: int) -> str:
    message = f"{method}\n{workspace_key}\n{file_id}\n{expires}".encode()
    return hmac.new(_signing_key(), message, hashlib.sha256).hexdigest()


def verify(*, method: str, file_id: str, workspace_key: str, expires: str, signature: str) -> Attachment:
    """The file a signed local URL names, or `FileError` (403 for a bad or expired signature, 404 unknown).

    A signed URL carries no credential: the workspace it names is authorized by the HMAC alone, which covers
    method, workspace, file id and expiry, and the file is then read through that workspace's scope."""
    if not expires.isdigit() or len(expires) > 12 or not re.fullmatch(r"[0-9a-f]{64}", signature or ""):
        raise FileError("invalid_signature", "The URL signature is missing or malformed.", 403)
    expected = sign(method=method, workspace_key=workspace_key, file_id=file_id, expires=int(expires))
    if not hmac.compare_digest(expected, signature):
        raise FileError("invalid_signature", "The URL signature does not match.", 403)
    if int(expires) < time.time():
        raise FileError("url_expired", "This URL has expired; ask for a new one.", 403)
    attachment = Attachment.objects.for_workspace(workspace_of_key(workspace_key)).filter(id=file_id).first()
    if attachment is None:
        raise FileError("not_found", "File not found.", 404)
    return attachment


def workspace_of_key(key: str) -> Workspace:
    """The workspace a key names (`org:user` or `user`; ids never contain `:`)."""
    org, _, user = key.rpartition(":")
    return Workspace(user_id=user, org_id=org or None)


@dataclass(frozen=True)
class SignedUrl:
    url: str
    expires_at: datetime


def _local_url(base_url: str, attachment: Attachment, method: str) -> SignedUrl:
    expires = int(time.time()) + attachment_settings.URL_TTL_SECONDS
    sig = sign(method=method, workspace_key=attachment.workspace_key, file_id=attachment.id, expires=expires)
    base = (attachment_settings.PUBLIC_BASE_URL or base_url).rstrip("/")
    query = urlencode({"ws": attachment.workspace_key, "expires": expires, "signature": sig})
    return SignedUrl(f"{base}/v1/files/blob/{attachment.id}?{query}", datetime.fromtimestamp(expires, UTC))


def _s3_url(attachment: Attachment, method: str) -> SignedUrl:
    store: Any = storage()
    ttl = attachment_settings.URL_TTL_SECONDS
    client = store.connection.meta.client
    params: dict[str, Any] = {"Bucket": store.bucket_name, "Key": store._normalize_name(attachment.storage_key)}
    if method == "PUT":
        params["ContentType"] = attachment.content_type
        url = client.generate_presigned_url("put_object", Params=params, ExpiresIn=ttl, HttpMethod="PUT")
    else:
        params["ResponseContentDisposition"] = "attachment"
        params["ResponseContentType"] = attachment.content_type
        url = client.generate_presigned_url("get_object", Params=params, ExpiresIn=ttl)
    return SignedUrl(url, datetime.fromtimestamp(int(time.time()) + ttl, UTC))


# --- the service ----------------------------------------------------------------------------------------------


def _usage(workspace: Workspace) -> tuple[int, int]:
    files = Attachment.objects.for_workspace(workspace).exclude(status="rejected")
    used = files.aggregate(total=Sum("size"))["total"] or 0
    return files.count(), used


def create_upload(*, workspace: Workspace, filename: str, base_url: str) -> tuple[Attachment, SignedUrl]:
    """A pending file and its upload URL; refuses an unsupported type or a workspace over its file count."""
    kind = type_of_filename(filename)
    count, used = _usage(workspace)
    if count >= attachment_settings.WORKSPACE_MAX_FILES:
        raise FileError("quota_exceeded", "This workspace holds the most files it may.", 403)
    if used >= attachment_settings.WORKSPACE_QUOTA_BYTES:
        raise FileError("quota_exceeded", "This workspace's file storage is full.", 403)
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", filename)[-100:].lstrip(".") or "file"
    attachment = Attachment.objects.for_workspace(workspace).create(
        workspace_key=workspace.key,
        org_id=workspace.org_id,
        user_id=workspace.user_id,
        filename=filename,
        content_type=kind,
        storage_key="",
    )
    attachment.storage_key = f"{attachment.id}/{safe}"
    attachment.save(update_fields=["storage_key"])
    url = _s3_url(attachment, "PUT") if is_s3() else _local_url(base_url, attachment, "PUT")
    return attachment, url


def store_upload(*, attachment: Attachment, stream: Any, declared_length: int | None) -> Attachment:
    """The bytes of a signed local PUT: size, type and quota checked before anything is kept."""
    limit = attachment_settings.MAX_BYTES
    if declared_length is not None and declared_length > limit:
        raise FileError("file_too_large", f"The file is over {limit} bytes.", 413)
    data = stream.read(limit + 1)
    check_bytes(attachment, data[:SNIFF_BYTES], len(data))
    with transaction.atomic():
        row = Attachment.objects.for_workspace(attachment.workspace).select_for_update().get(id=attachment.id)
        if row.status != "pending":
            raise FileError("already_uploaded", "This file was uploaded already; ask for a new upload URL.", 409)
        _, used = _usage(attachment.workspace)
        if used + len(data) > attachment_settings.WORKSPACE_QUOTA_BYTES:
            raise FileError("quota_exceeded", "This file would put the workspace over its storage quota.", 403)
        name = storage().save(row.storage_key, ContentFile(data))
        row.storage_key, row.size, row.status, row.uploaded_at = name, len(data), "ready", timezone.now()
        row.save(update_fields=["storage_key", "size", "status", "uploaded_at"])
    return row


def _verify_s3_object(attachment: Attachment) -> Attachment:
    """S3 uploads bypass the service: read the object back once, and reject (and delete) a bad one."""
    store = storage()
    if not store.exists(attachment.storage_key):
        raise FileError("not_uploaded", "The file has not been uploaded yet.", 409)
    size = store.size(attachment.storage_key)
    with store.open(attachment.storage_key, "rb") as handle:
        head = handle.read(SNIFF_BYTES)
    try:
        check_bytes(attachment, head, size)
        with transaction.atomic():
            _, used = _usage(attachment.workspace)
            if used + size > attachment_settings.WORKSPACE_QUOTA_BYTES:
                raise FileError("quota_exceeded", "This file puts the workspace over its storage quota.", 403)
            attachment.size, attachment.status, attachment.uploaded_at = size, "ready", timezone.now()
            attachment.save(update_fields=["size", "status", "uploaded_at"])
    except FileError:
        store.delete(attachment.storage_key)
        attachment.status, attachment.size = "rejected", None
        attachment.save(update_fields=["status", "size"])
        raise
    return attachment


def chat_file_id(*, workspace: Workspace, thread_id: str, data: bytes) -> str:
    """The id a file sent inline in a chat message gets: derived from (workspace, thread, bytes) under a key of
    this service, so a client that sends the same message again (a retry, `regenerate()`) names the same file."""
    digest = hashlib.sha256(data).hexdigest()
    mac = hmac.new(_signing_key(), f"chat-file\n{workspace.key}\n{thread_id}\n{digest}".encode(), hashlib.sha256)
    return "file_" + base64.urlsafe_b64encode(mac.digest()).decode()[:22]


def store_bytes(
    *, workspace: Workspace, thread: Thread, file_id: str, filename: str, content_type: str, data: bytes
) -> tuple[Attachment, bool]:
    """A checked file's row (attached to `thread`) and bytes, inside the caller's transaction; the file the id
    names already when it exists (the bool says whether bytes were written). Refuses past the quotas."""
    existing = Attachment.objects.for_workspace(workspace).filter(id=file_id).first()
    if existing is not None:
        if existing.thread_id is None:
            existing.thread = thread
            existing.save(update_fields=["thread"])
        return existing, False
    count, used = _usage(workspace)
    if count >= attachment_settings.WORKSPACE_MAX_FILES:
        raise FileError("quota_exceeded", "This workspace holds the most files it may.", 403)
    if used + len(data) > attachment_settings.WORKSPACE_QUOTA_BYTES:
        raise FileError("quota_exceeded", "This file would put the workspace over its storage quota.", 403)
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", filename)[-100:].lstrip(".") or "file"
    name = storage().save(f"{file_id}/{safe}", ContentFile(data))
    attachment = Attachment.objects.for_workspace(workspace).create(
        id=file_id,
        workspace_key=workspace.key,
        org_id=workspace.org_id,
        user_id=workspace.user_id,
        thread=thread,
        filename=filename,
        content_type=content_type,
        storage_key=name,
        size=len(data),
        status="ready",
        uploaded_at=timezone.now(),
    )
    return attachment, True


def read_bytes(attachment: Attachment) -> bytes:
    with storage().open(attachment.storage_key, "rb") as handle:
        return handle.read()


def get(*, workspace: Workspace, file_id: str) -> Attachment:
    attachment = Attachment.objects.for_workspace(workspace).filter(id=file_id).first()
    if attachment is None:
        raise FileError("not_found", "File not found.", 404)
    return attachment


def file_id_from(value: str) -> str | None:
    """The file id a client `key` or (public or signed) URL names."""
    match = FILE_ID.search(value or "")
    return match.group() if match else None


def ready(*, workspace: Workspace, file_id: str) -> Attachment:
    """The workspace's uploaded, checked file (an S3 upload is read back first); 404 unknown, 409 not ready."""
    attachment = get(workspace=workspace, file_id=file_id)
    if attachment.status == "pending" and is_s3():
        attachment = _verify_s3_object(attachment)
    if attachment.status != "ready":
        raise FileError("not_uploaded", "The file has not been uploaded (or was rejected).", 409)
    return attachment


def download_url(*, workspace: Workspace, file_id: str, base_url: str) -> tuple[Attachment, SignedUrl]:
    attachment = ready(workspace=workspace, file_id=file_id)
    url = _s3_url(attachment, "GET") if is_s3() else _local_url(base_url, attachment, "GET")
    return attachment, url


def public_url(base_url: str, attachment: Attachment) -> str:
    """The file's stable address: not a credential; served only to its workspace (`GET` with a token)."""
    base = (attachment_settings.PUBLIC_BASE_URL or base_url).rstrip("/")
    return f"{base}/v1/files/attachments/{attachment.id}"


def attach_to_thread(*, thread: Thread, content: Any) -> int:
    """Attach the unattached files of the thread's workspace that this message content names. On S3 a file
    still pending is checked now (read back), so an attached file is a checked one."""
    import json

    ids = set(FILE_ID.findall(json.dumps(content)))
    if not ids:
        return 0
    loose = Attachment.objects.for_workspace(thread.workspace).filter(id__in=ids, thread__isnull=True)
    if is_s3():
        for pending in loose.filter(status="pending"):
            try:
                _verify_s3_object(pending)
            except FileError:
                continue
    return loose.exclude(status="rejected").update(thread=thread)


def delete_bytes(attachment: Attachment) -> None:
    if attachment.storage_key:
        storage().delete(attachment.storage_key)


@receiver(post_delete, sender=Attachment, dispatch_uid="threads.files.delete_bytes")
def _delete_bytes_with_row(sender: type, instance: Attachment, **kwargs: Any) -> None:
    """However a row goes (its thread deleted, the deletion webhook, `delete_threads`), its bytes go too,
    once the transaction commits."""
    transaction.on_commit(lambda: delete_bytes(instance))
