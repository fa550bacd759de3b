"""The browser app's attachments: a person attaches an image, sends it, sees its preview in the sent message, and
sees it again after a reload (read from the service's store with the workspace's own token)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

import pytest

from chatauth.caller import Workspace
from tests.threads.web.test_browser import active_thread_id, send_and_wait, sign_in
from threads.models import Attachment

pytestmark = pytest.mark.django_db(transaction=True)


def _png(width: int = 24, height: int = 24) -> bytes:
    """A solid-colour PNG, built by hand (no image library needed)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + b"\xd0\x30\x30" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def _preview_loaded(page: Any, selector: str) -> None:
    """An <img> preview in `selector` that the browser actually decoded (not a broken image)."""
    page.wait_for_function(
        "sel => { const img = document.querySelector(sel + ' [data-testid=attachment-preview]');"
        " return img && img.complete && img.naturalWidth > 0; }",
        arg=selector,
    )


def test_an_attached_image_shows_in_the_sent_message_and_after_a_reload(
    page: Any, app_url: str, settings: Any, tmp_path: Path, shot: Any
) -> None:
    _local_store(settings, tmp_path)
    image = tmp_path / "red-square.png"
    image.write_bytes(_png())
    sign_in(page, app_url, "user_pics")

    with page.expect_file_chooser() as chooser:
        page.get_by_test_id("composer-attach").click()
    chooser.value.set_files(str(image))
    page.locator('[data-testid="composer-attachment"]', has_text="red-square.png").wait_for()
    _preview_loaded(page, '[data-testid="composer-attachment"]')
    shot(page, "01-attached")

    send_and_wait(page, "What colour is this?")
    _preview_loaded(page, '[data-testid="message-user"] [data-testid="message-attachment"]')
    assert page.get_by_test_id("composer-attachment").count() == 0
    thread_id = active_thread_id(page)
    (attachment,) = Attachment.objects.for_workspace(Workspace(user_id="user_pics"))
    assert (attachment.thread_id, attachment.content_type, attachment.filename) == (
        thread_id,
        "image/png",
        "red-square.png",
    )
    shot(page, "02-sent")

    page.reload()
    page.locator('[data-testid="message-user"]', has_text="What colour is this?").wait_for()
    sent = '[data-testid="message-user"] [data-testid="message-attachment"]'
    _preview_loaded(page, sent)
    src = page.locator(f"{sent} [data-testid=attachment-preview]").get_attribute("src")
    assert src.startswith("blob:"), "the stored file is read with the workspace token, not linked"
    assert page.locator(sent).inner_text().strip() == "red-square.png"
    shot(page, "03-after-reload")
    assert page.errors == []


def _local_store(settings: Any, tmp_path: Path) -> Path:
    store = tmp_path / "attachments"
    local = {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(store)}}
    settings.STORAGES = {**settings.STORAGES, "attachments": local}
    return store


def test_a_dropped_image_is_attached(page: Any, app_url: str, settings: Any, tmp_path: Path) -> None:
    _local_store(settings, tmp_path)
    sign_in(page, app_url, "user_drop")
    # A real drop: a DataTransfer holding the file, dragged over and dropped on the composer.
    page.evaluate(
        """([bytes, name]) => {
          const data = new DataTransfer();
          data.items.add(new File([new Uint8Array(bytes)], name, { type: "image/png" }));
          const zone = document.querySelector('[data-testid="composer-dropzone"]');
          for (const type of ["dragenter", "dragover", "drop"]) {
            zone.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: data }));
          }
        }""",
        [list(_png()), "dropped.png"],
    )
    page.locator('[data-testid="composer-attachment"]', has_text="dropped.png").wait_for()
    _preview_loaded(page, '[data-testid="composer-attachment"]')
    send_and_wait(page, "Dropped in")
    _preview_loaded(page, '[data-testid="message-user"] [data-testid="message-attachment"]')
    assert page.errors == []


def test_a_refused_upload_says_why_and_keeps_the_draft(page: Any, app_url: str, settings: Any, tmp_path: Path) -> None:
    store = _local_store(settings, tmp_path)
    fake = tmp_path / "fake.png"
    fake.write_bytes(b"\x00\x01 not an image at all")
    sign_in(page, app_url, "user_fake")
    with page.expect_file_chooser() as chooser:
        page.get_by_test_id("composer-attach").click()
    chooser.value.set_files(str(fake))
    page.get_by_test_id("composer-input").fill("Look at this")
    page.get_by_test_id("composer-send").click()
    notice = page.get_by_test_id("notice")
    notice.wait_for()
    assert "not image/png" in notice.inner_text()
    # Nothing was sent: the draft and its attachment are still in the composer, no message in the thread.
    assert page.get_by_test_id("composer-input").input_value() == "Look at this"
    assert page.locator('[data-testid="composer-attachment"]', has_text="fake.png").count() == 1
    assert page.locator('[data-testid="message-user"]').count() == 0
    assert not [p for p in store.rglob("*") if p.is_file()]
    assert page.errors == []
