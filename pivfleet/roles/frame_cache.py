"""The frames a worker has decoded: consecutive tiles of one pair read it once."""

from __future__ import annotations

from collections import OrderedDict

from pivfleet.core.errors import ImageReadError
from pivfleet.core.imaging import Pixels, check_texture, decode_frame
from pivfleet.core.ports import BlobStore

FRAME_CACHE_PAIRS = 2


class FrameCache:
    """The last few decoded pairs, keyed by their frame names."""

    def __init__(self, store: BlobStore, capacity: int = FRAME_CACHE_PAIRS) -> None:
        self.store = store
        self.capacity = capacity
        self._pairs: OrderedDict[tuple[str, str], tuple[Pixels, Pixels]] = OrderedDict()

    def pair(self, frame_a: str, frame_b: str, max_pixels: int) -> tuple[Pixels, Pixels]:
        """Both frames, decoded once (each checked against `max_pixels` and for texture)."""
        key = (frame_a, frame_b)
        if key not in self._pairs:
            self._pairs[key] = (self._read(frame_a, max_pixels), self._read(frame_b, max_pixels))
            while len(self._pairs) > self.capacity:
                self._pairs.popitem(last=False)
        self._pairs.move_to_end(key)
        return self._pairs[key]

    def _read(self, name: str, max_pixels: int) -> Pixels:
        try:
            data = self.store.get(name)
        except KeyError:
            raise ImageReadError(
                f"{name}: not in the input any more: was it moved or deleted after the run "
                "was submitted? Put it back and submit the run again"
            ) from None
        frame = decode_frame(data, name, max_pixels)
        check_texture(frame, name)
        return frame
