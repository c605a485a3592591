"""A local stand-in for Lambda's SQS event-source mapping: poll, call the handler with the
event shape Lambda sends, delete what succeeded, leave `batchItemFailures` to redeliver."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from pivfleet.aws import SqsJobQueue
from pivfleet.ports import Message

log = logging.getLogger(__name__)
BATCH_SIZE = 10
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def sqs_event(queue: SqsJobQueue, messages: list[Message]) -> dict[str, Any]:
    arn = f"arn:aws:sqs:local:000000000000:{queue.name}"
    records = [
        {
            "messageId": m.message_id,
            "receiptHandle": m.receipt,
            "body": m.body,
            "attributes": {"ApproximateReceiveCount": str(m.receive_count)},
            "messageAttributes": {},
            "eventSource": "aws:sqs",
            "eventSourceARN": arn,
        }
        for m in messages
    ]
    return {"Records": records}


def poll_once(queue: SqsJobQueue, handler: Handler, wait_seconds: float) -> int:
    """One receive → invoke → delete cycle; returns how many messages it handled."""
    messages = queue.receive(BATCH_SIZE, wait_seconds)
    if not messages:
        return 0
    response = handler(sqs_event(queue, messages), None) or {}
    failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
    for message in messages:
        if message.message_id not in failed:
            queue.ack(message)
    return len(messages)


def poll_forever(queue: SqsJobQueue, handler: Handler, stop: threading.Event) -> None:
    log.info("polling", extra={"queue": queue.name})
    while not stop.is_set():
        try:
            poll_once(queue, handler, wait_seconds=2)
        except Exception:
            log.exception("poll failed; retrying", extra={"queue": queue.name})
            stop.wait(2)
