"""Titles by the model: asked when a provider is configured, held to `threads.titles`' rule, else the heuristic.

A new thread's title is asked for once its first reply is complete, off the reply's path (`title_later`): a
background task per worker that holds neither the response (it has closed) nor a stream slot, only the first
user message. At most `MAX_AT_ONCE` title calls run at once per worker; the rest wait their turn, holding just
their message, so a burst of new chats does not pay for 500 model calls at the same moment. The prompt is
bounded (`PROMPT_CHARS`): a title needs the start of the question, not all of it.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from threads.chat.background import start_task
from threads.chat.conf import chat_settings
from threads.chat.upstream import complete_text
from threads.titles import clean_title, text_of, title_from_text

logger = logging.getLogger(__name__)
TITLE_PROMPT = (
    "Write a title of at most six words for a conversation that starts with the message below. "
    "Answer with the title only, no quotes, no markdown, no final punctuation."
)
PROMPT_CHARS = 1000
MAX_AT_ONCE = 8

_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


async def generate_title(user_message: dict[str, Any] | None, reply: str = "") -> str:
    prompt = text_of(user_message)
    if chat_settings.uses_dev_model:
        return title_from_text(prompt)
    try:
        async with asyncio.timeout(15):
            raw = await complete_text(
                messages=[
                    {"role": "system", "content": TITLE_PROMPT},
                    {"role": "user", "content": prompt[:PROMPT_CHARS]},
                ]
            )
    except Exception as exc:  # a title is a nicety: fall back rather than fail the turn
        logger.info("title generation failed: %s", exc.__class__.__name__)
        raw = ""
    return clean_title(raw) or title_from_text(prompt)


def asks_model() -> bool:
    """Whether new threads are titled by the model (`CHAT_MODEL_TITLES`, with a real provider)."""
    return bool(chat_settings.MODEL_TITLES) and not chat_settings.uses_dev_model


def heuristic_title(user_message: dict[str, Any] | None) -> str:
    """The title without the model: the start of the first message (`threads.titles`)."""
    return title_from_text(text_of(user_message))


async def _title(user_message: dict[str, Any] | None, save: Callable[..., Awaitable[Any]]) -> None:
    gate = _gates.setdefault(asyncio.get_running_loop(), asyncio.Semaphore(MAX_AT_ONCE))
    try:
        if asks_model():
            async with gate:
                title = await generate_title(user_message)
        else:
            title = heuristic_title(user_message)
        await save(title=title)
    except Exception:
        logger.exception("saving a thread's title failed")


def title_later(user_message: dict[str, Any] | None, save: Callable[..., Awaitable[Any]]) -> None:
    """Generate a title from `user_message` in the background and pass it to `save(title=...)`."""
    small = {"role": "user", "parts": [{"type": "text", "text": text_of(user_message)[:PROMPT_CHARS]}]}
    start_task(_title(small, save))
