"""An SQS queue and its dead-letter queue behind the JobQueue port."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from pivfleet.core.ports import Message
from pivfleet.core.topology import SQS_MAX_BATCH_MESSAGES, SQS_MAX_WAIT_SECONDS
from pivfleet.transports.aws_errors import MISSING_QUEUE_CODES, error_code

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import (
        MessageAttributeValueTypeDef,
        MessageTypeDef,
        ReceiveMessageRequestTypeDef,
        SendMessageBatchRequestEntryTypeDef,
    )

SEND_THREADS = 8
"""Batches sent at once: each SendMessageBatch is one HTTP round trip."""
REASON_MAX_CHARACTERS = 2000


class SqsJobQueue:
    """One SQS queue and its `<name>-dlq`."""

    def __init__(self, sqs: SQSClient, name: str, url: str | None = None) -> None:
        self.sqs, self.name = sqs, name
        self.url = url or sqs.get_queue_url(QueueName=name)["QueueUrl"]
        self._dlq_url: str | None = None

    @property
    def dlq_url(self) -> str:
        if self._dlq_url is None:
            self._dlq_url = self.sqs.get_queue_url(QueueName=f"{self.name}-dlq")["QueueUrl"]
        return self._dlq_url

    def send(self, bodies: list[str], delay_seconds: int = 0) -> None:
        """Send in batches of SQS's maximum, several batches at a time."""
        step = SQS_MAX_BATCH_MESSAGES
        entries: list[SendMessageBatchRequestEntryTypeDef] = [
            {"Id": str(i % step), "MessageBody": body, "DelaySeconds": delay_seconds}
            for i, body in enumerate(bodies)
        ]
        batches = [entries[i : i + step] for i in range(0, len(entries), step)]
        if len(batches) <= 1:
            list(map(self._send_batch, batches))
            return
        with ThreadPoolExecutor(SEND_THREADS) as pool:
            list(pool.map(self._send_batch, batches))

    def _send_batch(self, entries: list[SendMessageBatchRequestEntryTypeDef]) -> None:
        response = self.sqs.send_message_batch(QueueUrl=self.url, Entries=entries)
        if response.get("Failed"):
            raise RuntimeError(f"{self.name}: SendMessageBatch failed for {response['Failed']}")

    def receive(
        self,
        max_messages: int = 1,
        wait_seconds: float = 0.0,
        visibility_seconds: int | None = None,
    ) -> list[Message]:
        request: ReceiveMessageRequestTypeDef = {
            "QueueUrl": self.url,
            "MaxNumberOfMessages": max(1, min(max_messages, SQS_MAX_BATCH_MESSAGES)),
            "WaitTimeSeconds": int(min(wait_seconds, SQS_MAX_WAIT_SECONDS)),
            "MessageSystemAttributeNames": ["ApproximateReceiveCount"],
        }
        if visibility_seconds is not None:
            request["VisibilityTimeout"] = visibility_seconds
        response = self.sqs.receive_message(**request)
        return [to_message(m) for m in response.get("Messages", [])]

    def ack(self, message: Message) -> None:
        self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message.receipt)

    def extend(self, message: Message, seconds: int) -> None:
        self.sqs.change_message_visibility(
            QueueUrl=self.url, ReceiptHandle=message.receipt, VisibilityTimeout=int(seconds)
        )

    def retry_later(self, message: Message, delay_seconds: int) -> None:
        self.extend(message, delay_seconds)

    def dead_letter(self, message: Message, reason: str) -> None:
        self.send_dead_letter(message.body, reason)
        self.ack(message)

    def send_dead_letter(self, body: str, reason: str) -> None:
        """Put `body` on the DLQ with the reason, for `pivfleet dlq` to show."""
        text = reason[:REASON_MAX_CHARACTERS] or "-"
        attributes: dict[str, MessageAttributeValueTypeDef] = {
            "reason": {"DataType": "String", "StringValue": text}
        }
        self.sqs.send_message(QueueUrl=self.dlq_url, MessageBody=body, MessageAttributes=attributes)


def to_message(raw: MessageTypeDef) -> Message:
    count = int(raw.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
    return Message(raw["Body"], raw["ReceiptHandle"], count, raw["MessageId"])


def find_queue(sqs: SQSClient, name: str) -> SqsJobQueue | None:
    """The queue called `name`, or None when it does not exist."""
    try:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except ClientError as error:
        if error_code(error) in MISSING_QUEUE_CODES:
            return None
        raise
    return SqsJobQueue(sqs, name, url)
