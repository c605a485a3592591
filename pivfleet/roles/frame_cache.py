"""The frames a worker has decoded: consecutive tiles of one pair read it once."""

from __future__ import annotations

from collections import OrderedDict

from pivfleet.core.imaging import Frame, decode_frame
from pivfleet.core.ports import BlobStore

FRAME_CACHE_PAIRS = 2


class FrameCache:
    """The last few decoded pairs, keyed by their frame names."""

    def __init__(self, store: BlobStore, capacity: int = FRAME_CACHE_PAIRS) -> None:
        self.store = store
        self.capacity = capacity
        self._pairs: OrderedDict[tuple[str, str], tuple[Frame, Frame]] = OrderedDict()
        self.bytes_read = 0

    def pair(self, frame_a: str, frame_b: str) -> tuple[Frame, Frame]:
        key = (frame_a, frame_b)
        if key not in self._pairs:
            self._pairs[key] = (self._read(frame_a), self._read(frame_b))
            while len(self._pairs) > self.capacity:
                self._pairs.popitem(last=False)
        self._pairs.move_to_end(key)
        return self._pairs[key]

    def _read(self, name: str) -> Frame:
        data = self.store.get(name)
        self.bytes_read += len(data)
        return decode_frame(data, name)
