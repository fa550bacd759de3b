"""WhiteNoise as an async-capable middleware.

`whitenoise.middleware.WhiteNoiseMiddleware` is sync-only: in the ASGI stack Django would wrap it, so every request
(every chat stream too) would hop to a thread and back just to pass through. This subclass keeps WhiteNoise's
lookup, headers, compression and range handling, and adds an async path: requests outside `STATIC_URL` go straight
on; a static file is opened in a worker thread and streamed with an async iterator.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import IO, Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponseBase
from whitenoise.middleware import WhiteNoiseMiddleware


async def _read_async(file: IO[bytes], block_size: int) -> AsyncIterator[bytes]:
    try:
        while chunk := await sync_to_async(file.read, thread_sensitive=False)(block_size):
            yield chunk
    finally:
        await sync_to_async(file.close, thread_sensitive=False)()


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield b""  # pragma: no cover - makes this an async generator


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any], settings: Any = None) -> None:
        if settings is None:
            super().__init__(get_response)
        else:
            super().__init__(get_response, settings=settings)
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def add_files(self, root: str, prefix: str | None = None) -> None:
        if getattr(self, "use_finders", False) and not os.path.isdir(root):
            return  # development: files come from the finders, STATIC_ROOT need not exist
        super().add_files(root, prefix)

    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if self.is_async:
            return self.__acall__(request)
        return super().__call__(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        path = request.path_info
        if not path.startswith(self.static_prefix):
            return await self.get_response(request)
        if self.autorefresh:  # DEBUG: looks at the file system
            static_file = await sync_to_async(self.find_file, thread_sensitive=False)(path)
        else:
            static_file = self.files.get(path)
        if static_file is None:
            return await self.get_response(request)
        response = await sync_to_async(self.serve, thread_sensitive=False)(static_file, request)
        file = getattr(response, "file_to_stream", None)
        response.streaming_content = _read_async(file, response.block_size) if file is not None else _nothing()
        return response
