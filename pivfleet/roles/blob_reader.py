"""A stored object read as a file, a block at a time: what the dispatcher hands the image
readers to learn a frame's size from its header without downloading the frame."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import TypeVar

from pivfleet.core.ports import BlobStore

Answer = TypeVar("Answer")

BLOCK_BYTES = 64 * 1024
"""What one ranged GET fetches: a frame's header and, for most TIFFs, its first directory."""


class BlobReader(io.RawIOBase):
    """`key` of `store` as a read-only, seekable file. Each block is fetched (a ranged GET)
    when first read, and its length (a HEAD) only when a reader seeks from the end, so
    reading a 60 MB TIFF's header costs two or three requests instead of 60 MB."""

    def __init__(self, store: BlobStore, key: str) -> None:
        super().__init__()
        self.store, self.key = store, key
        self.position = 0
        self.blocks: dict[int, bytes] = {}
        self.length: int | None = None
        self.failure: Exception | None = None
        """What the store raised, if it did: image readers report any error as an unreadable
        image, and the caller needs to tell a missing object or a failed request from that."""

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_END:
            base = self.size()
        else:
            base = self.position if whence == io.SEEK_CUR else 0
        if base + offset < 0:
            raise ValueError(f"{self.key}: seek to {base + offset}, before the start")
        self.position = base + offset
        return self.position

    def size(self) -> int:
        if self.length is None:
            self.length = self.fetch(lambda: self.store.size(self.key))
        return self.length

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        view, done = memoryview(buffer).cast("B"), 0
        while done < len(view):
            index, within = divmod(self.position, BLOCK_BYTES)
            chunk = self.block(index)[within : within + len(view) - done]
            if not chunk:  # past the end
                break
            view[done : done + len(chunk)] = chunk
            done += len(chunk)
            self.position += len(chunk)
        return done

    def block(self, index: int) -> bytes:
        if index not in self.blocks:
            start = index * BLOCK_BYTES
            self.blocks[index] = self.fetch(
                lambda: self.store.get_range(self.key, start, BLOCK_BYTES)
            )
        return self.blocks[index]

    def fetch(self, request: Callable[[], Answer]) -> Answer:
        try:
            return request()
        except Exception as error:
            self.failure = error
            raise
