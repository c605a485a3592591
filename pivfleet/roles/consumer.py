"""The one consume loop and the one message policy.

Every role handles one message at a time and says what becomes of it (an `Outcome`). `decide`
applies the policy around the handler: a message that can never be processed is dead-lettered
at once with its reason; any other error is retried with backoff, and dead-lettered when its
last delivery fails. `consume` is the loop the worker, the embedded run and the dispatcher and
collector pollers run; the Lambda entries call `decide` on each record of their batch.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from pivfleet.core.backoff import backoff_seconds
from pivfleet.core.errors import PoisonMessageError
from pivfleet.core.ports import RELEASE, JobQueue, Message, Outcome, dead_letter, retry_in
from pivfleet.core.topology import MAX_RECEIVE_COUNT

log = logging.getLogger(__name__)
MessageHandler = Callable[[Message], Outcome]

RETRY_BASE_SECONDS = 5
RETRY_MAX_SECONDS = 300
RECEIVE_WAIT_SECONDS = 5.0
"""Short enough that a stop (SIGTERM) is noticed promptly between long polls."""
RECEIVE_ERROR_BASE_SECONDS = 0.5
RECEIVE_ERROR_MAX_SECONDS = 10.0


def is_last_delivery(message: Message) -> bool:
    """After this delivery the queue moves the message to its dead-letter queue."""
    return message.receive_count >= MAX_RECEIVE_COUNT


def decide(handle: MessageHandler, message: Message) -> Outcome:
    """Run `handle` under the policy: poison pills dead-lettered, other errors retried."""
    try:
        return handle(message)
    except PoisonMessageError as error:
        log.error(
            "dead-lettering a message that can never be processed", extra=_about(message, error)
        )
        return dead_letter(str(error))
    except Exception as error:
        reason = f"{type(error).__name__}: {error}"
        if is_last_delivery(message):
            log.exception("giving up on a message", extra=_about(message, error))
            return dead_letter(f"gave up after {message.receive_count} deliveries: {reason}")
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
    else:
        queue.extend(message, 0)


def consume(
    queue: JobQueue,
    handle: MessageHandler,
    stop: threading.Event,
    batch_size: int = 1,
    wait_seconds: float = RECEIVE_WAIT_SECONDS,
) -> None:
    """Receive, decide and settle until `stop` is set; a failing endpoint is retried with backoff.

    A message received after `stop` is handed straight back for another consumer."""
    failures = 0
    while not stop.is_set():
        try:
            for message in queue.receive(batch_size, wait_seconds):
                settle(queue, message, RELEASE if stop.is_set() else decide(handle, message))
            failures = 0
        except Exception:
            failures += 1
            log.exception("receive failed; retrying", extra={"queue": queue.name})
            stop.wait(
                backoff_seconds(failures, RECEIVE_ERROR_BASE_SECONDS, RECEIVE_ERROR_MAX_SECONDS)
            )
