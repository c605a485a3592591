"""A one-line progress bar: pairs and tiles done, rate, ETA. Silent when not on a terminal."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import TextIO

BAR_WIDTH = 24
REFRESH_SECONDS = 0.2


@dataclass
class Counts:
    """How far a run is: pairs and tiles done of their totals, failed pairs."""

    pairs: int
    tiles: int
    pairs_done: int = 0
    tiles_done: int = 0
    failed: int = 0


class Progress:
    def __init__(self, pairs: int, tiles: int, stream: TextIO | None = None) -> None:
        self.counts = Counts(pairs, tiles)
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.started = time.monotonic()
        self._drawn = 0.0

    def tile_done(self) -> None:
        self.counts.tiles_done += 1
        self.draw()

    def pair_done(self, failed: bool) -> None:
        self.counts.pairs_done += 1
        self.counts.failed += failed
        self.draw(force=True)

    def note(self, text: str) -> None:
        """A line that must be seen (a failed pair), printed above the bar even off a TTY."""
        if self.enabled:
            self.stream.write("\r\033[K")
        self.stream.write(text + "\n")
        self.draw(force=True)

    def draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (not force and now - self._drawn < REFRESH_SECONDS):
            return
        self._drawn = now
        self.stream.write("\r\033[K" + progress_line(self.counts, now - self.started))
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.draw(force=True)
            self.stream.write("\n")


def progress_line(counts: Counts, elapsed: float) -> str:
    """`[####....] pairs 3/10 (1 failed)  tiles 40/100  2.10 tiles/s  ETA 29s`."""
    done, total = counts.tiles_done, counts.tiles
    rate = done / max(elapsed, 1e-9)
    filled = int(BAR_WIDTH * done / max(total, 1))
    eta = f"{(total - done) / rate:.0f}s" if rate else "?"
    return (
        f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] pairs {counts.pairs_done}/{counts.pairs} "
        f"({counts.failed} failed)  tiles {done}/{total}  {rate:.2f} tiles/s  ETA {eta}"
    )
