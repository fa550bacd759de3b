"""`FrameFeed`: a reply's SSE frames, handed from the generation that makes them to the response that writes them.

Both ways a reply reaches its first reader use it: a connection-owned `ChatStream`, and a resumable generation's
owner handing its starting request the frames the log holds (`threads.chat.resumable`). Two rules:

- every frame that is ready goes out in one write: under load frames pile up between two sends, and each send
  (Django's response, the server's transport) costs more than the bytes do;
- a `: keep-alive` comment after `CHAT_KEEPALIVE_SECONDS` of silence (proxies drop idle connections), from one
  timer per feed that looks every quarter of that period, rather than a timeout armed and cancelled around every
  wait (a timer handle per frame: 2% of a turn's CPU in `bench/turn.py`'s profile).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from threads.chat.conf import chat_settings
from threads.chat.protocol import DONE, KEEPALIVE


class FrameFeed:
    """Frames in, writes out; `end()` adds `[DONE]`, once, and the reader stops after writing it."""

    def __init__(self) -> None:
        self._frames: list[bytes] = []
        self._event = asyncio.Event()
        self._ended = False
        self._loop = asyncio.get_running_loop()
        self._last_put = self._loop.time()
        self._timer: asyncio.TimerHandle | None = None

    def put(self, frames: list[bytes]) -> None:
        self._frames.extend(frames)
        self._last_put = self._loop.time()
        self._event.set()

    def end(self) -> None:
        """`[DONE]`, once, however the generation ended (even if its task was cancelled before it ran)."""
        if not self._ended:
            self._ended = True
            self.put([DONE])

    async def frames(self) -> AsyncIterator[bytes]:
        """What was put, as it comes: each write holds everything ready; the last one ends with `[DONE]`."""
        silence = max(float(chat_settings.KEEPALIVE_SECONDS), 0.05)
        self._timer = self._loop.call_later(silence / 4, self._look, silence)
        try:
            while True:
                if not self._frames:
                    self._event.clear()
                    await self._event.wait()
                    continue
                batch, self._frames = self._frames, []
                if DONE in batch:
                    yield b"".join(batch[: batch.index(DONE) + 1])
                    return
                yield b"".join(batch)
        finally:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

    def _look(self, silence: float) -> None:
        if self._loop.time() - self._last_put >= silence:
            self.put([KEEPALIVE])
        self._timer = self._loop.call_later(silence / 4, self._look, silence)
