"""Keeping a message hidden while its job runs, so no second worker receives it."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from pivfleet.core.ports import JobQueue, Message

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HeartbeatTiming:
    every_seconds: float
    """How often visibility is extended: well under the timeout, so one missed beat is harmless."""
    extend_to_seconds: int
    """Each beat hides the message this long from now."""


class Heartbeat:
    """A background thread that extends one message's visibility until the block ends."""

    def __init__(self, queue: JobQueue, message: Message, timing: HeartbeatTiming) -> None:
        self.queue, self.message, self.timing = queue, message, timing
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(self.timing.every_seconds):
            try:
                self.queue.extend(self.message, self.timing.extend_to_seconds)
            except Exception:
                log.warning("heartbeat failed", exc_info=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
