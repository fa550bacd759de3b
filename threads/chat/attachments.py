"""AI SDK file parts on `/api/chat` (`{type: "file", mediaType, url, filename?}` in user messages).

Three steps, each where it can run:

1. `check_file_parts` (before anything is written, so a refusal writes nothing): every file part of the
   request's user messages is either this service's own file URL (`/v1/files/attachments/:id`, or a signed
   `/v1/files/blob/:id` URL) naming an uploaded file of the caller's workspace (another workspace's file is a 404,
   as everywhere), or a base64 `data:` URL within `ATTACHMENTS_MAX_BYTES`, of an allowed type, checked from the
   bytes. Each part is rewritten to one canonical form whose `url` is the file's stable address, so the history
   holds a URL, never megabytes of base64. A data: URL's file gets an id derived from (workspace, thread, bytes):
   the client's copy of the message keeps its data: URL, and re-sending it (a retry, `regenerate()`) names the same
   file and the same stored message.
2. `turn_files` (inside the turn's transaction): the new files are stored, attached to the thread (so they are
   deleted with it), and files the message references by URL are attached; bytes written for a turn that then
   fails are removed again.
3. `inline_files` (just before the model call): the placeholders of `to_openai_messages` become OpenAI content
   parts with the bytes read from the store, workspace-scoped: images as `image_url` with a base64 data URL, PDFs
   as `file` (`file_data`, `filename`), text inline. The model is never given a URL it would have to fetch. A file
   the model does not read (`ATTACHMENTS_MODEL_TYPES`), one that is gone, or one past `ATTACHMENTS_MODEL_MAX_BYTES`
   becomes a short text note naming it.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from chatauth.caller import Workspace
from threads import files
from threads.chat.openai_messages import FILE_PLACEHOLDER
from threads.chat.request import ChatRequest, NewFile
from threads.models import Thread

OWN_PATH = re.compile(r"/v1/files/(?:attachments|blob)/(file_[A-Za-z0-9_-]{22})$")
DATA_URL = re.compile(r"data:([A-Za-z0-9.+-]+/[A-Za-z0-9.+-]+)?((?:;[A-Za-z0-9=._+-]+)*);base64,", re.S)
EXTENSION_OF = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}
EXTENSION_OF |= {"application/pdf": "pdf", "text/plain": "txt"}


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _own_file_id(url: str, base_url: str) -> str | None:
    """The file id of a URL of this service's own files (absolute on our origin, or a path); None otherwise."""
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        origins = {_origin(base_url)}
        if files.attachment_settings.PUBLIC_BASE_URL:
            origins.add(_origin(files.attachment_settings.PUBLIC_BASE_URL))
        if _origin(url) not in origins:
            return None
    match = OWN_PATH.search(parts.path)
    return match.group(1) if match else None


def _too_large(where: str, limit: int) -> files.FileError:
    return files.FileError("file_too_large", f"{where}: The file is over {limit} bytes (ATTACHMENTS_MAX_BYTES).", 413)


def _decode_data_url(url: str, where: str) -> tuple[str | None, bytes]:
    match = DATA_URL.match(url)
    if match is None:
        raise files.FileError("invalid_data_url", f"{where}: A data: URL must be base64 (data:<type>;base64,...).")
    payload = url[match.end() :]
    limit = files.attachment_settings.MAX_BYTES
    if len(payload) // 4 * 3 > limit + 3:
        raise _too_large(where, limit)
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise files.FileError("invalid_data_url", f"{where}: The data: URL is not valid base64.") from exc
    return match.group(1), data


def _checked_type(data: bytes, declared: str, where: str) -> str:
    """The bytes' own type, which must be allowed and be the type the part (and its data: URL) declares."""
    limit = files.attachment_settings.MAX_BYTES
    if len(data) > limit:
        raise _too_large(where, limit)
    if not data:
        raise files.FileError("empty_file", f"{where}: The file is empty.")
    found = files.sniff(data[: files.SNIFF_BYTES])
    allowed = files.attachment_settings.ALLOWED_TYPES
    if found is None or found not in allowed:
        raise files.FileError(
            "unsupported_file_type",
            f"{where}: Files of this type are not accepted (allowed: {', '.join(allowed)}).",
            415,
        )
    if declared.lower() != found:
        raise files.FileError("content_type_mismatch", f"{where}: The bytes are {found}, not {declared}.", 415)
    return found


def _refuse_unsupported(content_type: str, where: str) -> None:
    settings = files.attachment_settings
    if settings.UNSUPPORTED_BY_MODEL == "refuse" and content_type not in settings.MODEL_TYPES:
        raise files.FileError(
            "file_not_supported_by_model",
            f"{where}: The chat model does not read {content_type} files (ATTACHMENTS_MODEL_TYPES).",
        )


def _canonical(file_id: str, content_type: str, filename: str, base_url: str) -> dict[str, Any]:
    base = (files.attachment_settings.PUBLIC_BASE_URL or base_url).rstrip("/")
    url = f"{base}/v1/files/attachments/{file_id}"
    return {"type": "file", "mediaType": content_type, "filename": filename, "url": url}


def _resolve(
    part: dict[str, Any], *, where: str, workspace: Workspace, thread_id: str, base_url: str, new: dict[str, NewFile]
) -> dict[str, Any]:
    url, declared = part["url"], part["mediaType"]
    filename = (part.get("filename") or "").strip()
    if url.startswith("data:"):
        url_type, data = _decode_data_url(url, where)
        if url_type and url_type.lower() != declared.lower():
            message = f"{where}: mediaType {declared} does not match the data: URL's {url_type}."
            raise files.FileError("content_type_mismatch", message, 415)
        content_type = _checked_type(data, declared, where)
        _refuse_unsupported(content_type, where)
        file_id = files.chat_file_id(workspace=workspace, thread_id=thread_id, data=data)
        filename = filename or f"attachment.{EXTENSION_OF.get(content_type, 'bin')}"
        new.setdefault(file_id, NewFile(id=file_id, filename=filename, content_type=content_type, data=data))
        return _canonical(file_id, content_type, filename, base_url)
    file_id = _own_file_id(url, base_url)
    if file_id is None:
        raise files.FileError(
            "unsupported_file_url",
            f"{where}: A file's url must be a data: URL or a file URL of this service (/v1/files/attachments/:id).",
        )
    try:
        attachment = files.ready(workspace=workspace, file_id=file_id)
    except files.FileError as exc:
        raise files.FileError(exc.code, f"{where}: {exc.message}", exc.status) from exc
    _refuse_unsupported(attachment.content_type, where)
    return _canonical(attachment.id, attachment.content_type, filename or attachment.filename, base_url)


def has_file_parts(request: ChatRequest) -> bool:
    """Whether step 1 has anything to do (most requests have no file: no database round trip for them)."""
    return any(p.get("type") == "file" for m in request.messages if m["role"] == "user" for p in m["parts"])


def check_file_parts(*, workspace: Workspace, request: ChatRequest, base_url: str) -> ChatRequest:
    """The request with its user messages' file parts checked and rewritten (step 1); `FileError` refuses it."""
    if not has_file_parts(request):
        return request
    new: dict[str, NewFile] = {}
    messages = []
    for i, message in enumerate(request.messages):
        if message["role"] != "user" or not any(p.get("type") == "file" for p in message["parts"]):
            messages.append(message)
            continue
        count = sum(1 for p in message["parts"] if p.get("type") == "file")
        if count > files.attachment_settings.MAX_FILES_PER_MESSAGE:
            limit = files.attachment_settings.MAX_FILES_PER_MESSAGE
            message = f"messages[{i}]: At most {limit} files per message (ATTACHMENTS_MAX_FILES_PER_MESSAGE)."
            raise files.FileError("too_many_files", message)
        parts = [
            _resolve(
                p,
                where=f"messages[{i}].parts[{j}]",
                workspace=workspace,
                thread_id=request.thread_id,
                base_url=base_url,
                new=new,
            )
            if p.get("type") == "file"
            else p
            for j, p in enumerate(message["parts"])
        ]
        messages.append({**message, "parts": parts})
    return replace(request, messages=messages, new_files=tuple(new.values()))


@contextmanager
def turn_files(*, thread: Thread, workspace: Workspace, request: ChatRequest) -> Iterator[None]:
    """Store the turn's new files and attach the ones its message names (step 2), inside the caller's
    transaction; if the block (or the storing) fails, the bytes written here are deleted again."""
    written: list[str] = []
    try:
        for new in request.new_files:
            attachment, stored = files.store_bytes(
                workspace=workspace,
                thread=thread,
                file_id=new.id,
                filename=new.filename,
                content_type=new.content_type,
                data=new.data,
            )
            if stored:
                written.append(attachment.storage_key)
        last = request.messages[-1]
        if any(p.get("type") == "file" for p in last["parts"]):
            files.attach_to_thread(thread=thread, content={"parts": last["parts"]})
        yield
    except BaseException:
        for key in written:
            files.storage().delete(key)
        raise


def _note(placeholder: dict[str, Any], why: str) -> dict[str, Any]:
    name = placeholder.get("filename") or "a file"
    kind = placeholder.get("media_type") or "unknown type"
    return {"type": "text", "text": f"[The user attached {name} ({kind}); {why}.]"}


def _model_part(attachment: Any, filename: str, data: bytes) -> dict[str, Any]:
    kind = attachment.content_type
    if kind == "text/plain":
        return {"type": "text", "text": f"[{filename}]\n{data.decode('utf-8', errors='replace')}"}
    data_url = f"data:{kind};base64,{base64.b64encode(data).decode()}"
    if kind.startswith("image/"):
        return {"type": "image_url", "image_url": {"url": data_url}}
    return {"type": "file", "file": {"filename": filename, "file_data": data_url}}


def _inlined(placeholder: dict[str, Any], workspace: Workspace | None, budget: list[int]) -> dict[str, Any]:
    match = OWN_PATH.search(urlsplit(placeholder.get("url") or "").path)  # stored: canonical, or a /v1 client's
    file_id = match.group(1) if match else None
    if workspace is None or file_id is None:
        return _note(placeholder, "the file is not available")
    try:
        attachment = files.ready(workspace=workspace, file_id=file_id)
    except files.FileError:
        return _note(placeholder, "the file is not available")
    if attachment.content_type not in files.attachment_settings.MODEL_TYPES:
        return _note(placeholder, "this model cannot read files of this type")
    if (attachment.size or 0) > budget[0]:
        return _note(placeholder, "it was left out: too many attached bytes for one request")
    budget[0] -= attachment.size or 0
    return _model_part(attachment, placeholder.get("filename") or attachment.filename, files.read_bytes(attachment))


def inline_files_sync(messages: list[dict[str, Any]], workspace: Workspace | None) -> list[dict[str, Any]]:
    """Step 3: every file placeholder replaced, newest message first against the byte budget."""
    budget = [files.attachment_settings.MODEL_MAX_BYTES]
    out = list(messages)
    for index in range(len(out) - 1, -1, -1):
        content = out[index].get("content")
        if not isinstance(content, list) or not any(p.get("type") == FILE_PLACEHOLDER for p in content):
            continue
        parts = [_inlined(p, workspace, budget) if p.get("type") == FILE_PLACEHOLDER else p for p in content]
        out[index] = {**out[index], "content": parts}
    return out


def has_files(messages: list[dict[str, Any]]) -> bool:
    return any(
        isinstance(m.get("content"), list) and any(p.get("type") == FILE_PLACEHOLDER for p in m["content"])
        for m in messages
    )
