"""The one title rule of both faces: plain text (markdown stripped), at most 48 characters, cut at a word.

A title comes from the title model when one is configured (`threads.chat.titles`), else from the first user
message; either way it goes through `clean_title`, so `/api` and `/v1` title the same thread the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

MAX_TITLE_CHARS = 48
MAX_WORDS = 8
FALLBACK_TITLE = "New chat"
_LEADING_FILLER = re.compile(
    r"^(?:(?:(?:hi|hello|hey)(?: there)?|please|pls|can you|could you|would you|i want you to|help me)"
    r"\b[\s,!.:;-]*)+",
    re.I,
)


def text_of(message: Any) -> str:
    """The plain text of a message in any shape the clients send: aui/v0, ai-sdk UIMessage, or a bare string."""
    if not isinstance(message, dict):
        return ""
    parts = message.get("content")
    if isinstance(parts, str):
        return parts
    if not isinstance(parts, list):
        parts = message.get("parts")
    if not isinstance(parts, list):
        return ""
    return " ".join(
        p["text"] for p in parts if isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)
    )


def first_user_text(messages: Iterable[Any]) -> str:
    for message in messages:
        if isinstance(message, dict) and message.get("role") == "user":
            text = text_of(message).strip()
            if text:
                return text
    return ""


def plain_text(text: str) -> str:
    """Markdown reduced to its words: code blocks dropped, emphasis, headings, quotes and link brackets removed."""
    cleaned = re.sub(r"```.*?```", " ", text, flags=re.S)
    cleaned = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", cleaned)
    cleaned = re.sub(r"[`*_#>\[\]]+", " ", cleaned)
    return " ".join(cleaned.split())


def _fit(words: list[str]) -> str:
    """As many whole words as fit in MAX_TITLE_CHARS (a single overlong word is cut)."""
    title = ""
    for word in words:
        candidate = f"{title} {word}".strip()
        if len(candidate) > MAX_TITLE_CHARS:
            break
        title = candidate
    if not title and words:
        title = words[0][:MAX_TITLE_CHARS]
    return title


def clean_title(raw: str) -> str:
    """Any proposed title (a model's answer) held to the title rule; '' when nothing is left."""
    first_line = raw.strip().splitlines()[0] if raw.strip() else ""
    return _fit(plain_text(first_line.strip().strip("\"'“”")).rstrip(".!?;:, ").split())


def title_from_text(text: str) -> str:
    """A title from a user's first message: its first sentence's first words, fillers ("hi, can you") dropped."""
    cleaned = _LEADING_FILLER.sub("", plain_text(text)).strip()
    sentence = re.split(r"(?<=[.!?])\s", cleaned, maxsplit=1)[0].rstrip(".!?;:, ")
    title = _fit(sentence.split()[:MAX_WORDS])
    return (title[:1].upper() + title[1:]) if title else FALLBACK_TITLE


def title_chunks(title: str) -> tuple[str, ...]:
    """Word-sized pieces, so the client sees a stream (concatenated they are the title exactly)."""
    return tuple(re.findall(r"\S+\s*", title)) or (title,)
