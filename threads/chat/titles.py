"""Titles by the model: asked when a provider is configured, held to `threads.titles`' rule, else the heuristic."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from threads.chat.conf import chat_settings
from threads.chat.upstream import complete_text
from threads.titles import clean_title, text_of, title_from_text

logger = logging.getLogger(__name__)
TITLE_PROMPT = (
    "Write a title of at most six words for a conversation that starts with the message below. "
    "Answer with the title only, no quotes, no markdown, no final punctuation."
)


async def generate_title(user_message: dict[str, Any] | None, reply: str = "") -> str:
    prompt = text_of(user_message)
    if chat_settings.uses_dev_model:
        return title_from_text(prompt)
    try:
        async with asyncio.timeout(15):
            raw = await complete_text(
                messages=[{"role": "system", "content": TITLE_PROMPT}, {"role": "user", "content": prompt[:4000]}]
            )
    except Exception as exc:  # a title is a nicety: fall back rather than fail the turn
        logger.info("title generation failed: %s", exc.__class__.__name__)
        raw = ""
    return clean_title(raw) or title_from_text(prompt)
