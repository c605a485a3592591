"""The one consume loop and the one message policy.

Every role handles one message at a time and says what becomes of it (an `Outcome`). `decide`
applies the policy around the role: a message that can never be processed is dead-lettered at
once with its reason; an error another attempt cannot cure (`is_permanent`) is given up at
once, and any other is retried with backoff and given up when its last attempt fails; a
message whose every attempt died without settling it (the process killed, out of memory) is
not tried again. The role's `abandon` reports each of these with its cause. `Consumer` is
the loop the worker, the embedded run and the dispatcher and collector pollers run; the Lambda
entries call `decide` on each record of their batch.
"""

from __future__ import annotations

import logging
import threading
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from pivfleet.core.backoff import backoff_seconds
from pivfleet.core.errors import PoisonMessageError, describe, is_permanent
from pivfleet.core.ports import RELEASE, JobQueue, Message, Outcome, dead_letter, retry_in
from pivfleet.core.topology import MAX_ATTEMPTS
from pivfleet.roles.heartbeat import Heartbeat, Lease

log = logging.getLogger(__name__)

RETRY_BASE_SECONDS = 5
RETRY_MAX_SECONDS = 300
RECEIVE_WAIT_SECONDS = 5.0
"""Short enough that a stop (SIGTERM) is noticed promptly between long polls."""
RECEIVE_ERROR_BASE_SECONDS = 0.5
RECEIVE_ERROR_MAX_SECONDS = 10.0


class Role(Protocol):
    """A role's side of the loop."""

    def handle(self, message: Message) -> Outcome: ...

    def abandon(self, message: Message, reason: str) -> Outcome:
        """Every attempt at `message` died without settling it: report that, say its fate."""
        ...


@runtime_checkable
class BatchRole(Role, Protocol):
    """A role that can do part of a batch's work at once, before its messages are decided one
    by one (the collector records a batch's results with one tally swap)."""

    def prepare(self, messages: list[Message]) -> None: ...


def prepare(role: Role, messages: list[Message]) -> None:
    """Best effort: whatever a batch's preparation could not do, each message's own handling
    does, under the policy. Messages every attempt died on are left out."""
    batch = [m for m in messages if m.receive_count <= MAX_ATTEMPTS]
    if not isinstance(role, BatchRole) or len(batch) < 2:
        return
    try:
        role.prepare(batch)
    except Exception:
        log.warning("batch not prepared; handling its messages one by one", exc_info=True)


class DeadLetterAbandoned:
    """The default `abandon`: nothing to report beyond the dead letter and its reason."""

    def abandon(self, message: Message, reason: str) -> Outcome:
        return dead_letter(reason)


def is_last_attempt(message: Message) -> bool:
    return message.receive_count >= MAX_ATTEMPTS


def decide(role: Role, message: Message) -> Outcome:
    """Run the role on `message` under the policy."""
    if message.receive_count > MAX_ATTEMPTS:
        reason = (
            f"died on every delivery: {message.receive_count - 1} attempts ended without a "
            "result (the process was killed, ran out of memory or crashed)"
        )
        log.error("abandoning a message", extra={"message_id": message.message_id})
        return role.abandon(message, reason)
    try:
        return role.handle(message)
    except PoisonMessageError as error:
        log.error(
            "dead-lettering a message that can never be processed", extra=_about(message, error)
        )
        return dead_letter(str(error))
    except Exception as error:
        return fail(role, message, error)


def fail(role: Role, message: Message, error: Exception) -> Outcome:
    """A permanent error is given up at once with its cause; a transient one is retried with
    backoff until its last attempt."""
    if is_permanent(error):
        log.error("permanent error: not retrying", extra=_about(message, error))
        return role.abandon(message, describe(error))
    if is_last_attempt(message):
        log.exception("giving up on a message", extra=_about(message, error))
        return role.abandon(
            message, f"gave up after {message.receive_count} attempts: {describe(error)}"
        )
    delay = int(backoff_seconds(message.receive_count, RETRY_BASE_SECONDS, RETRY_MAX_SECONDS))
    log.warning("message failed; retrying", extra={**_about(message, error), "delay": delay})
    return retry_in(delay)


def _about(message: Message, error: BaseException) -> dict[str, object]:
    return {
        "message_id": message.message_id,
        "receive_count": message.receive_count,
        "reason": f"{type(error).__name__}: {error}",
    }


def settle(queue: JobQueue, message: Message, outcome: Outcome) -> None:
    if outcome.action == "ack":
        queue.ack(message)
    elif outcome.action == "retry":
        queue.retry_later(message, outcome.delay_seconds)
    elif outcome.action == "dead_letter":
        queue.dead_letter(message, outcome.reason)
    elif outcome.action == "defer":
        queue.send([message.body], outcome.delay_seconds)
        queue.ack(message)
    else:
        queue.extend(message, 0)


@dataclass(frozen=True)
class Intake:
    """How a consumer receives: batch size, long-poll wait, and the lease it holds messages on
    (None: the queue's visibility timeout, no renewal)."""

    batch_size: int = 1
    wait_seconds: float = RECEIVE_WAIT_SECONDS
    lease: Lease | None = None


@dataclass
class Consumer:
    """Receive, decide and settle until stopped; a failing endpoint is retried with backoff.

    A message received after the stop is handed straight back for another consumer."""

    queue: JobQueue
    role: Role
    intake: Intake = field(default_factory=Intake)
    in_hand: list[Message] = field(default_factory=list)

    def run(self, stop: threading.Event) -> None:
        failures = 0
        while not stop.is_set():
            try:
                self.take(stop)
                failures = 0
            except Exception:
                failures += 1
                log.exception("receive failed; retrying", extra={"queue": self.queue.name})
                delay = backoff_seconds(
                    failures, RECEIVE_ERROR_BASE_SECONDS, RECEIVE_ERROR_MAX_SECONDS
                )
                stop.wait(delay)

    def take(self, stop: threading.Event) -> None:
        """One receive, its messages decided and settled in order under one lease."""
        lease, intake = self.intake.lease, self.intake
        hidden = lease.hidden_seconds if lease else None
        self.in_hand[:] = self.queue.receive(intake.batch_size, intake.wait_seconds, hidden)
        if not self.in_hand:
            return
        with Heartbeat(self.queue, self.in_hand, lease) if lease else nullcontext():
            prepare(self.role, self.in_hand)
            for message in list(self.in_hand):
                outcome = RELEASE if stop.is_set() else decide(self.role, message)
                self.in_hand.remove(message)
                settle(self.queue, message, outcome)

    def release(self) -> None:
        """Hand back every message in hand at once (shutdown ran out of time)."""
        for message in list(self.in_hand):
            self.queue.extend(message, 0)
            log.info("released a message in hand at shutdown", extra={"queue": self.queue.name})
