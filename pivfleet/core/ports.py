"""The ports every role talks through, and what a role decides about a message it received.

Implementations live in `pivfleet/transports/`: in-memory queue and folder, SQS and S3."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol


@dataclass(frozen=True)
class Message:
    """A received message: its body and the handle needed to ack or extend it."""

    body: str
    receipt: str
    receive_count: int = 1
    message_id: str = ""


@dataclass(frozen=True)
class Outcome:
    """What becomes of a received message once its handler ran."""

    action: Literal["ack", "retry", "dead_letter", "release", "defer"]
    delay_seconds: int = 0
    """`retry`: hidden this long before the next delivery; `defer`: the same, as a fresh
    message, so waiting (for frames still arriving) spends none of its attempts."""
    reason: str = ""
    """`dead_letter`: why, kept with the dead letter for `pivfleet dlq`."""


ACK = Outcome("ack")
RELEASE = Outcome("release")
"""Hand the message back at once, untouched (received while shutting down)."""


def retry_in(seconds: int) -> Outcome:
    return Outcome("retry", delay_seconds=seconds)


def defer_by(seconds: int) -> Outcome:
    return Outcome("defer", delay_seconds=seconds)


def dead_letter(reason: str) -> Outcome:
    return Outcome("dead_letter", reason=reason)


class JobQueue(Protocol):
    """An SQS-like queue: at-least-once delivery, visibility timeout, dead letters."""

    name: str

    def send(self, bodies: list[str], delay_seconds: int = 0) -> None:
        """Enqueue `bodies`, each received no sooner than `delay_seconds` from now."""
        ...

    def receive(
        self,
        max_messages: int = 1,
        wait_seconds: float = 0.0,
        visibility_seconds: int | None = None,
    ) -> list[Message]:
        """Up to `max_messages`, each hidden `visibility_seconds` (None: the queue's timeout)."""
        ...

    def ack(self, message: Message) -> None: ...

    def extend(self, message: Message, seconds: int) -> None:
        """Keep the message hidden `seconds` more (heartbeat); 0 releases it now."""
        ...

    def retry_later(self, message: Message, delay_seconds: int) -> None: ...

    def dead_letter(self, message: Message, reason: str) -> None: ...


class BlobStore(Protocol):
    """A flat key → bytes store: an S3 bucket or a folder."""

    def get(self, key: str) -> bytes:
        """Raise KeyError when the key does not exist."""
        ...

    def get_range(self, key: str, start: int, length: int) -> bytes:
        """`length` bytes from byte `start` (fewer at the end of the object); KeyError when
        the key does not exist."""
        ...

    def size(self, key: str) -> int:
        """The object's length in bytes (S3: a HEAD); KeyError when the key does not exist."""
        ...

    def put(self, key: str, data: bytes) -> None: ...

    def put_file(self, key: str, path: Path) -> None:
        """Write a local file's bytes without reading it whole (S3: a multipart upload)."""
        ...

    def put_if_absent(self, key: str, data: bytes) -> bool:
        """Write only if nothing is there; return whether this call wrote it."""
        ...

    def get_tagged(self, key: str) -> tuple[bytes, str]:
        """The key's bytes and a tag naming this version of it (S3's ETag); KeyError when
        the key does not exist."""
        ...

    def put_if_tagged(self, key: str, data: bytes, tag: str | None) -> bool:
        """Write only if the key still holds the version `tag` (None: only if absent), so
        that concurrent read-modify-writes never lose an update; whether this call wrote."""
        ...

    def exists(self, key: str) -> bool: ...

    def delete(self, keys: list[str]) -> None:
        """Remove these keys; missing ones are no error."""
        ...

    def newest(self, prefix: str) -> float | None:
        """When the most recently written key under `prefix` was written, None if none is."""
        ...

    def modified(self, key: str) -> float | None:
        """When the key was last written (seconds since the epoch), None if it does not exist."""
        ...

    def folders(self, prefix: str) -> list[str]:
        """The next path segments below `prefix` that hold keys (`<prefix><folder>/…`)."""
        ...

    def list(self, prefix: str) -> list[str]: ...


JobSender = Callable[[str, list[str]], None]
"""Sends job bodies to the jobs queue of an algorithm (`JobQueue.send` without a delay)."""
JobsQueueFinder = Callable[[str], JobQueue]
"""An algorithm's jobs queue; raises PivfleetError naming the algorithm when it has none."""


def sender(find: JobsQueueFinder) -> JobSender:
    """Sends to each algorithm's queue, found when first needed (a run's next pass or step),
    so a run that never sends looks up nothing."""
    return lambda algorithm, bodies: find(algorithm).send(bodies)
