"""`threads.chat.feed.FrameFeed`: what a reply's first reader writes, and when."""

from __future__ import annotations

import asyncio
from typing import Any

from threads.chat.feed import FrameFeed
from threads.chat.protocol import DONE, KEEPALIVE


def _read(feed_script: Any) -> list[bytes]:
    async def run() -> list[bytes]:
        feed = FrameFeed()
        writer = asyncio.create_task(feed_script(feed))
        writes = [frames async for frames in feed.frames()]
        await writer
        return writes

    return asyncio.run(run())


def test_frames_ready_together_go_out_in_one_write_ending_with_done():
    async def script(feed: FrameFeed) -> None:
        feed.put([b"a"])
        feed.put([b"b", b"c"])
        feed.end()

    assert _read(script) == [b"abc" + DONE]


def test_nothing_put_after_done_is_written():
    async def script(feed: FrameFeed) -> None:
        feed.end()
        feed.put([b"late"])
        feed.end()  # once only

    assert _read(script) == [DONE]


def test_a_silence_longer_than_the_keepalive_period_gets_a_comment(settings):
    settings.CHAT = {**settings.CHAT, "KEEPALIVE_SECONDS": 0.1}

    async def script(feed: FrameFeed) -> None:
        feed.put([b"first"])
        await asyncio.sleep(0.35)
        feed.put([b"second"])
        feed.end()

    writes = _read(script)
    assert writes[0] == b"first" and writes[-1] == b"second" + DONE
    assert 1 <= writes.count(KEEPALIVE) <= 4  # one per 0.1 s of silence (looked at every 0.025 s)


def test_frames_coming_faster_than_the_period_get_no_comment(settings):
    settings.CHAT = {**settings.CHAT, "KEEPALIVE_SECONDS": 1.0}

    async def script(feed: FrameFeed) -> None:
        for _ in range(20):
            feed.put([b"x"])
            await asyncio.sleep(0.02)
        feed.end()

    assert KEEPALIVE not in _read(script)
