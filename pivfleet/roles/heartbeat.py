"""Keeping received messages hidden while a role works on them, so no one else receives them,
and letting them come back soon after a role that died stops beating."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from pivfleet.core.ports import JobQueue, Message

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Lease:
    """How long a received message stays hidden, and how often the holder renews that."""

    every_seconds: float
    """Renewal interval: well under `hidden_seconds`, so one missed beat is harmless."""
    hidden_seconds: int
    """Each renewal hides the message this long from now; after a crash, it is back this soon."""


class Heartbeat:
    """A background thread renewing the lease of every message still in `held`."""

    def __init__(self, queue: JobQueue, held: list[Message], lease: Lease) -> None:
        self.queue, self.held, self.lease = queue, held, lease
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(self.lease.every_seconds):
            for message in list(self.held):
                try:
                    self.queue.extend(message, self.lease.hidden_seconds)
                except Exception:
                    log.warning("heartbeat failed", exc_info=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
