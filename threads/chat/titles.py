"""Short thread titles: asked of the model when one is configured, else taken from the first user message."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from threads.chat.conf import chat_settings
from threads.chat.upstream import complete_text

logger = logging.getLogger(__name__)
MAX_TITLE_CHARS = 80
TITLE_PROMPT = (
    "Write a title of at most six words for a conversation that starts with the message below. "
    "Answer with the title only, no quotes, no final punctuation."
)


def heuristic_title(text: str) -> str:
    words = re.sub(r"\s+", " ", text).strip().split(" ")
    title = " ".join(words[:8]).strip(" .,:;!?")
    if not title:
        return "New chat"
    return title[:MAX_TITLE_CHARS]


def _clean(raw: str) -> str:
    title = raw.strip().strip("\"'“”").splitlines()[0] if raw.strip() else ""
    return title.strip(" .")[:MAX_TITLE_CHARS]


def text_of(message: dict[str, Any] | None) -> str:
    if not message:
        return ""
    content = message.get("parts") or message.get("content") or []
    if isinstance(content, str):
        return content
    return " ".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")


async def generate_title(user_message: dict[str, Any] | None, reply: str = "") -> str:
    prompt = text_of(user_message)
    if chat_settings.uses_dev_model:
        return heuristic_title(prompt)
    try:
        async with asyncio.timeout(15):
            raw = await complete_text(
                messages=[{"role": "system", "content": TITLE_PROMPT}, {"role": "user", "content": prompt[:4000]}]
            )
    except Exception as exc:  # a title is a nicety: fall back rather than fail the turn
        logger.info("title generation failed: %s", exc.__class__.__name__)
        raw = ""
    return _clean(raw) or heuristic_title(prompt)
