"""The offline development model: a clearly labelled reply so the quick start works with no provider account.

Used only when no OPENAI_API_KEY is configured and CHAT_DEV_MODEL is on (the default in DEBUG). It speaks the
same chunks as the real upstream, so everything downstream (persistence, clients) is exercised unchanged.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from threads.chat.protocol import Chunk

DEV_REPLY = (
    "[Development model — offline, no provider configured] "
    "I am a stand-in so you can try the app without an account. You said: {prompt}"
)


async def dev_model_chunks(*, prompt: str, delay: float = 0.02) -> AsyncIterator[Chunk]:
    """A clearly labelled, deterministic reply, streamed word by word."""
    yield {"type": "start-step"}
    yield {"type": "text-start", "id": "text-1"}
    words = DEV_REPLY.format(prompt=prompt[:500]).split(" ")
    for i, word in enumerate(words):
        await asyncio.sleep(delay)
        yield {"type": "text-delta", "id": "text-1", "delta": word if i == 0 else " " + word}
    yield {"type": "text-end", "id": "text-1"}
    yield {"type": "finish-step"}
    yield {"type": "finish", "finishReason": "stop"}
