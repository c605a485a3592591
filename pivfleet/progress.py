"""A one-line progress bar: pairs and tiles done, rate, ETA. Silent when not on a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO

BAR_WIDTH = 24
REFRESH_SECONDS = 0.2


class Progress:
    def __init__(self, pairs: int, tiles: int, stream: TextIO | None = None) -> None:
        self.pairs, self.tiles = pairs, tiles
        self.pairs_done = self.tiles_done = self.failed = 0
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.started = time.monotonic()
        self._drawn = 0.0

    def tile_done(self) -> None:
        self.tiles_done += 1
        self.draw()

    def pair_done(self, failed: bool) -> None:
        self.pairs_done += 1
        self.failed += failed
        self.draw(force=True)

    def note(self, text: str) -> None:
        """A line that must be seen (a failed pair), printed above the bar even off a TTY."""
        if self.enabled:
            self.stream.write("\r\033[K")
        self.stream.write(text + "\n")
        self.draw(force=True)

    def line(self) -> str:
        counts = (self.pairs_done, self.pairs, self.failed, self.tiles_done, self.tiles)
        return progress_line(*counts, time.monotonic() - self.started)

    def draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (not force and now - self._drawn < REFRESH_SECONDS):
            return
        self._drawn = now
        self.stream.write("\r\033[K" + self.line())
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.draw(force=True)
            self.stream.write("\n")


def progress_line(
    pairs_done: int, pairs: int, failed: int, tiles_done: int, tiles: int, elapsed: float
) -> str:
    """`[####....] pairs 3/10 (1 failed)  tiles 40/100  2.10 tiles/s  ETA 29s`."""
    rate = tiles_done / max(elapsed, 1e-9)
    filled = int(BAR_WIDTH * tiles_done / max(tiles, 1))
    eta = f"{(tiles - tiles_done) / rate:.0f}s" if rate else "?"
    return (
        f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] pairs {pairs_done}/{pairs} "
        f"({failed} failed)  tiles {tiles_done}/{tiles}  {rate:.2f} tiles/s  ETA {eta}"
    )
