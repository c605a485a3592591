"""An in-memory queue with SQS semantics, for the embedded run and functional tests.

Received messages are hidden for the visibility timeout and come back if not acked; after
`max_receive_count` deliveries a message moves to the dead-letter queue, as SQS redrive does.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pivfleet.core.ports import Message
from pivfleet.core.topology import JOB_VISIBILITY_TIMEOUT_SECONDS, MAX_RECEIVE_COUNT

POLL_INTERVAL_SECONDS = 0.01


@dataclass
class _Stored:
    message_id: str
    body: str
    visible_at: float = 0.0
    receive_count: int = 0
    receipt: str = ""
    dead_reason: str = ""


@dataclass
class InMemoryQueue:
    name: str
    visibility_timeout_seconds: float = JOB_VISIBILITY_TIMEOUT_SECONDS
    max_receive_count: int = MAX_RECEIVE_COUNT
    clock: Callable[[], float] = time.monotonic
    dead_letters: list[_Stored] = field(default_factory=list)
    _closed: bool = field(default=False, init=False)
    _messages: dict[str, _Stored] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=itertools.count)
    _lock: threading.Condition = field(default_factory=threading.Condition)

    def send(self, bodies: list[str], delay_seconds: int = 0) -> None:
        with self._lock:
            visible_at = self.clock() + delay_seconds if delay_seconds else 0.0
            for body in bodies:
                message_id = f"{self.name}-{next(self._ids)}"
                self._messages[message_id] = _Stored(message_id, body, visible_at)
            self._lock.notify_all()

    def receive(
        self,
        max_messages: int = 1,
        wait_seconds: float = 0.0,
        visibility_seconds: int | None = None,
    ) -> list[Message]:
        deadline = self.clock() + wait_seconds
        hidden = (
            self.visibility_timeout_seconds if visibility_seconds is None else visibility_seconds
        )
        with self._lock:
            while True:
                taken = self._take_visible(max_messages, hidden)
                if taken or self._closed or self.clock() >= deadline:
                    return taken
                # Woken by a send or `close`; the timeout sees hidden messages come back.
                self._lock.wait(POLL_INTERVAL_SECONDS)

    def close(self) -> None:
        """No receive waits any more: each returns what is visible at once (a run that is
        over stops its consumers now, not when their receives time out)."""
        with self._lock:
            self._closed = True
            self._lock.notify_all()

    def _take_visible(self, max_messages: int, hidden_seconds: float) -> list[Message]:
        now, taken = self.clock(), list[Message]()
        for stored in list(self._messages.values()):
            if len(taken) == max_messages:
                break
            if stored.visible_at > now:
                continue
            if stored.receive_count >= self.max_receive_count:
                self._move_to_dlq(stored, "max receive count reached")
                continue
            stored.receive_count += 1
            stored.visible_at = now + hidden_seconds
            stored.receipt = f"{stored.message_id}#{stored.receive_count}"
            taken.append(
                Message(stored.body, stored.receipt, stored.receive_count, stored.message_id)
            )
        return taken

    def _current(self, message: Message) -> _Stored | None:
        """The stored message if `message`'s receipt is still the latest (as SQS checks)."""
        stored = self._messages.get(message.message_id)
        return stored if stored is not None and stored.receipt == message.receipt else None

    def ack(self, message: Message) -> None:
        with self._lock:
            if self._current(message):
                del self._messages[message.message_id]

    def extend(self, message: Message, seconds: int) -> None:
        with self._lock:
            stored = self._current(message)
            if stored:
                stored.visible_at = self.clock() + seconds

    def retry_later(self, message: Message, delay_seconds: int) -> None:
        self.extend(message, delay_seconds)

    def dead_letter(self, message: Message, reason: str) -> None:
        with self._lock:
            stored = self._current(message)
            if stored:
                self._move_to_dlq(stored, reason)

    def _move_to_dlq(self, stored: _Stored, reason: str) -> None:
        stored.dead_reason = reason
        self.dead_letters.append(stored)
        del self._messages[stored.message_id]

    def __len__(self) -> int:
        with self._lock:
            return len(self._messages)
