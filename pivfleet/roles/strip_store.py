"""Arrays stored as strips in a blob store: written once, read a window at a time."""

from __future__ import annotations

import numpy as np

from pivfleet.core.ports import BlobStore
from pivfleet.core.strips import HEADER_BYTES, StripLayout, encode_strips, read_layout
from pivfleet.core.tiling import Box
from pivfleet.roles.storage import in_parallel

LAYOUTS_CACHED = 64


class StripStore:
    """Reads windows of stored arrays with ranged reads. Each array's layout (its header) is
    read once."""

    def __init__(self, store: BlobStore) -> None:
        self.store = store
        self._layouts: dict[str, StripLayout] = {}

    def write(self, key: str, array: np.ndarray, width: int) -> None:
        self.store.put(key, encode_strips(array, width))

    def read(self, key: str, window: Box) -> np.ndarray:
        """`window` of the array at `key` (`(*components, rows, cols)`, inside the array)."""
        layout = self.layout(key)
        pieces = in_parallel(lambda r: self.store.get_range(key, *r), layout.ranges(window))
        return layout.join(window, pieces)

    def layout(self, key: str) -> StripLayout:
        if key not in self._layouts:
            head = self.store.get_range(key, 0, HEADER_BYTES)
            if len(self._layouts) >= LAYOUTS_CACHED:
                self._layouts.pop(next(iter(self._layouts)))
            self._layouts[key] = read_layout(head)
        return self._layouts[key]
