"""S3 and SQS transports behind the BlobStore and JobQueue ports.

boto3 finds the endpoint in AWS_ENDPOINT_URL (LocalStack) or uses AWS itself; nothing here
knows which. (localstack-client is not needed: boto3 ≥ 1.28 reads AWS_ENDPOINT_URL.)
"""

from __future__ import annotations

import json
import os
from functools import cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from pivfleet.ports import Message

CLIENT_CONFIG = Config(retries={"max_attempts": 10, "mode": "adaptive"}, max_pool_connections=32)
LONG_POLL_SECONDS = 20
"""SQS caps a receive's wait at 20 s."""


@cache
def client(service: str) -> Any:
    # botocore reads AWS_DEFAULT_REGION only; Lambda, ECS and most users set AWS_REGION.
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    session = boto3.session.Session(region_name=region)
    return session.client(service, config=CLIENT_CONFIG)  # type: ignore[call-overload]


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class S3BlobStore:
    def __init__(self, bucket: str) -> None:
        self.bucket = bucket
        self.s3 = client("s3")

    def get(self, key: str) -> bytes:
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"]
        except ClientError as error:
            if error_code(error) in ("NoSuchKey", "404"):
                raise KeyError(f"s3://{self.bucket}/{key}") from None
            raise
        return bytes(body.read())

    def put(self, key: str, data: bytes) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=data)

    def put_if_absent(self, key: str, data: bytes) -> bool:
        try:
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=data, IfNoneMatch="*")
        except ClientError as error:
            if error_code(error) in ("PreconditionFailed", "ConditionalRequestConflict"):
                return False
            raise
        return True

    def exists(self, key: str) -> bool:
        try:
            self.s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if error_code(error) in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def list(self, prefix: str) -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


class SqsJobQueue:
    """One SQS queue and its dead-letter queue."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sqs = client("sqs")
        self.url = self.sqs.get_queue_url(QueueName=name)["QueueUrl"]
        self._dlq_url: str | None = None

    @property
    def dlq_url(self) -> str:
        if self._dlq_url is None:
            self._dlq_url = str(self.sqs.get_queue_url(QueueName=f"{self.name}-dlq")["QueueUrl"])
        return self._dlq_url

    def send(self, bodies: list[str]) -> None:
        entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(bodies)]
        for start in range(0, len(entries), 10):
            response = self.sqs.send_message_batch(
                QueueUrl=self.url, Entries=entries[start : start + 10]
            )
            if response.get("Failed"):
                raise RuntimeError(f"{self.name}: SendMessageBatch failed for {response['Failed']}")

    def receive(self, max_messages: int = 1, wait_seconds: float = 0.0) -> list[Message]:
        response = self.sqs.receive_message(
            QueueUrl=self.url,
            MaxNumberOfMessages=max(1, min(max_messages, 10)),
            WaitTimeSeconds=int(min(wait_seconds, LONG_POLL_SECONDS)),
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
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
        attributes = {"reason": {"DataType": "String", "StringValue": reason[:2000] or "-"}}
        self.sqs.send_message(QueueUrl=self.dlq_url, MessageBody=body, MessageAttributes=attributes)


def to_message(raw: dict[str, Any]) -> Message:
    count = int(raw.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
    return Message(raw["Body"], raw["ReceiptHandle"], count, raw["MessageId"])


def queue_exists(name: str) -> bool:
    try:
        client("sqs").get_queue_url(QueueName=name)
    except ClientError as error:
        if "NonExistentQueue" in error_code(error) or "QueueDoesNotExist" in error_code(error):
            return False
        raise
    return True


def redrive_policy(dlq_arn: str, max_receive_count: int) -> str:
    return json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)})
