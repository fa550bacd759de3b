"""Heuristic thread titles: the gist of the first user message, in any message shape the clients send."""

from __future__ import annotations

import pytest

from threads.titles import FALLBACK_TITLE, first_user_text, title_chunks, title_from_text


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("hello there, how do I reverse a list in python?", "How do I reverse a list in python"),
        ("Please summarize this article. It is long.", "Summarize this article"),
        ("```py\nprint(1)\n``` why does this fail", "Why does this fail"),
        ("a " * 100, "A a a a a a a a"),
        ("!!!", FALLBACK_TITLE),
    ],
)
def test_title_from_text(text: str, title: str) -> None:
    assert title_from_text(text) == title


def test_first_user_text_reads_aui_ai_sdk_and_plain_messages() -> None:
    assert first_user_text([{"role": "assistant", "content": "x"}, {"role": "user", "content": "plain"}]) == "plain"
    assert first_user_text([{"role": "user", "parts": [{"type": "text", "text": "sdk"}]}]) == "sdk"
    assert first_user_text([{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "aui"}]}]) == "aui"
    assert first_user_text([None, "x", {"role": "user", "content": 5}]) == ""


def test_chunks_join_back_to_the_title() -> None:
    assert "".join(title_chunks("Plan a trip")) == "Plan a trip" and len(title_chunks("Plan a trip")) == 3
