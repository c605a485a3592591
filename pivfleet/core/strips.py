"""Arrays stored as vertical strips, so a reader fetches about its window and not the whole
array, in one ranged read per strip: the frames of a pass-synchronous pair, and each pass's
predictor.

The object is an `.npy` of shape `(strips, height, *components, width)`: strip `s` holds
columns `s·width … (s+1)·width` of every row (the last strip zero-padded), and the rows of a
strip follow each other, so rows `y0 … y1` of a strip are one byte range. Only the strip edges
cost extra bytes (a window `w` px wide reads at most `w + 2·width − 2` columns), in
`⌈w / width⌉ + 1` requests at most. A predictor's u and v are its components."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np

from pivfleet.core.tiling import Box

FRAME_STRIP_PIXELS = 64
"""A crop of ~700 px reads ~1.05× its pixels in ~12 requests per frame."""
PREDICTOR_STRIP_POINTS = 16
HEADER_BYTES = 256
"""Enough for the `.npy` header of any array stored here (numpy writes 128 bytes)."""


def encode_strips(array: np.ndarray, width: int) -> bytes:
    """`array` (`(*components, height, columns)`) as strips of `width` columns."""
    *components, height, columns = array.shape
    count = max(math.ceil(columns / width), 1)
    padded = np.zeros((*components, height, count * width), dtype=array.dtype)
    padded[..., :columns] = array
    split = padded.reshape(*components, height, count, width)
    strips = np.moveaxis(np.moveaxis(split, -2, 0), -2, 1)  # (strips, height, *comps, width)
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(strips), allow_pickle=False)
    return buffer.getvalue()


@dataclass(frozen=True)
class StripLayout:
    """Where a stored array's bytes are, from its header."""

    offset: int
    dtype: np.dtype
    shape: tuple[int, ...]
    """`(strips, height, *components, width)`."""

    @property
    def width(self) -> int:
        return self.shape[-1]

    @property
    def row_bytes(self) -> int:
        return math.prod(self.shape[2:]) * self.dtype.itemsize

    def ranges(self, window: Box) -> list[tuple[int, int]]:
        """(start, length) of each strip's rows of `window`, left to right."""
        height, first, last = self.shape[1], window.x0 // self.width, -(-window.x1 // self.width)
        return [
            (self.offset + (strip * height + window.y0) * self.row_bytes,
             window.shape[0] * self.row_bytes)
            for strip in range(first, last)
        ]  # fmt: skip

    def join(self, window: Box, pieces: list[bytes]) -> np.ndarray:
        """The array's `window` from the bytes of `ranges(window)`."""
        rows, inner = window.shape[0], self.shape[2:]
        strips = [np.frombuffer(piece, self.dtype).reshape(rows, *inner) for piece in pieces]
        joined = np.moveaxis(np.concatenate(strips, axis=-1), 0, -2)  # (*comps, rows, cols)
        left = window.x0 % self.width  # the window's first column in its first strip
        return np.ascontiguousarray(joined[..., left : left + window.shape[1]])


def read_layout(head: bytes) -> StripLayout:
    """The layout from the first `HEADER_BYTES` of a stored array."""
    stream = io.BytesIO(head)
    formats = np.lib.format
    version = formats.read_magic(stream)
    read = formats.read_array_header_1_0 if version == (1, 0) else formats.read_array_header_2_0
    shape, _, dtype = read(stream)
    return StripLayout(stream.tell(), np.dtype(dtype), tuple(shape))


def narrowest(frame: np.ndarray) -> np.ndarray:
    """`frame` in the smallest dtype that holds every value exactly: a 16-bit camera's frame
    decoded to float64 goes back to 2 bytes a pixel."""
    integral = bool(np.all(frame == np.round(frame)))
    low, high = float(frame.min(initial=0.0)), float(frame.max(initial=0.0))
    for dtype in (np.uint8, np.uint16):
        if integral and low >= 0 and high <= np.iinfo(dtype).max:
            return frame.astype(dtype)
    single = frame.astype(np.float32)
    return single if np.array_equal(single, frame) else frame
