"""AWS Lambda's SQS event source: an event's records as Messages, failures as a batch response
(ReportBatchItemFailures), so Lambda and the local pollers hand roles the same Messages."""

from __future__ import annotations

from typing import Any

from pivfleet.core.ports import Message, Outcome
from pivfleet.transports.sqs import SqsJobQueue


def messages_from_event(event: dict[str, Any]) -> list[Message]:
    return [
        Message(
            body=record["body"],
            receipt=record["receiptHandle"],
            receive_count=int(record.get("attributes", {}).get("ApproximateReceiveCount", "1")),
            message_id=record["messageId"],
        )
        for record in event.get("Records", [])
    ]


def batch_response(failed_message_ids: list[str]) -> dict[str, Any]:
    """Lambda deletes every record not listed here and redelivers the listed ones."""
    return {"batchItemFailures": [{"itemIdentifier": i} for i in failed_message_ids]}


def settle_batch(queue: SqsJobQueue, settled: list[tuple[Message, Outcome]]) -> dict[str, Any]:
    """Apply each record's outcome the way Lambda's event source expects.

    Lambda deletes the records that succeeded, so an ack needs no call; a dead letter is sent to
    the DLQ and then counts as success; a retry is made visible again after its delay (not the
    queue's long visibility timeout) and reported as a failure so Lambda keeps it."""
    failed = []
    for message, outcome in settled:
        if outcome.action == "dead_letter":
            queue.send_dead_letter(message.body, outcome.reason)
        elif outcome.action == "defer":
            queue.send([message.body], outcome.delay_seconds)
        elif outcome.action in ("retry", "release"):
            queue.extend(message, outcome.delay_seconds)
            failed.append(message.message_id)
    return batch_response(failed)
