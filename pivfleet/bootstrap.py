"""`pivfleet bootstrap`: buckets, queues with dead-letter queues, and the run.json notification.

Idempotent: run it as often as you like. Terraform builds the same topology on AWS.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from pivfleet.aws import client, error_code, redrive_policy
from pivfleet.config import CloudConfig
from pivfleet.topology import (
    DLQ_RETENTION_SECONDS,
    RUN_SPEC_FILENAME,
    QueueSpec,
    all_queues,
    uploads_queue,
)

log = logging.getLogger(__name__)
CONNECT_ATTEMPTS = 30
CONNECT_BACKOFF_MAX_SECONDS = 5.0


def wait_for_endpoint(attempts: int = CONNECT_ATTEMPTS) -> None:
    """Retry with backoff until SQS answers: compose starts us beside a booting LocalStack."""
    for attempt in range(1, attempts + 1):
        try:
            client("sqs").list_queues(MaxResults=1)
            return
        except (BotoCoreError, ClientError) as error:
            delay = min(CONNECT_BACKOFF_MAX_SECONDS, 0.2 * 2**attempt)
            endpoint = client("sqs").meta.endpoint_url
            log.warning(
                "endpoint %s not ready (%s); retry %d in %.1fs", endpoint, error, attempt, delay
            )
            time.sleep(delay)
    raise ConnectionError(
        f"no answer from {client('sqs').meta.endpoint_url} after {attempts} tries"
    )


def ensure_bucket(name: str) -> None:
    s3 = client("s3")
    try:
        s3.create_bucket(Bucket=name, **bucket_location(s3.meta.region_name))
    except ClientError as error:
        if error_code(error) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise


def bucket_location(region: str | None) -> dict[str, Any]:
    if region in (None, "us-east-1"):
        return {}
    return {"CreateBucketConfiguration": {"LocationConstraint": region}}


def ensure_queue(spec: QueueSpec) -> str:
    """Create the DLQ, then the queue redriving into it; return the queue's ARN."""
    sqs = client("sqs")
    dlq_url = sqs.create_queue(
        QueueName=spec.dlq_name, Attributes={"MessageRetentionPeriod": str(DLQ_RETENTION_SECONDS)}
    )["QueueUrl"]
    dlq_arn = queue_arn(dlq_url)
    attributes = {
        "VisibilityTimeout": str(spec.visibility_timeout_seconds),
        "MessageRetentionPeriod": str(spec.retention_seconds),
        "RedrivePolicy": redrive_policy(dlq_arn, spec.max_receive_count),
    }
    url = sqs.create_queue(QueueName=spec.name)["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
    return queue_arn(url)


def queue_arn(url: str) -> str:
    attributes = client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return str(attributes["Attributes"]["QueueArn"])


def notify_uploads(bucket: str, uploads_arn: str) -> None:
    configuration = {
        "QueueConfigurations": [
            {
                "Id": "pivfleet-run-spec",
                "QueueArn": uploads_arn,
                "Events": ["s3:ObjectCreated:*"],
                "Filter": {
                    "Key": {"FilterRules": [{"Name": "suffix", "Value": RUN_SPEC_FILENAME}]}
                },
            }
        ]
    }
    client("s3").put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration=configuration
    )


def bootstrap(config: CloudConfig, algorithms: list[str]) -> dict[str, str]:
    """Create everything; return queue name → ARN."""
    wait_for_endpoint()
    ensure_bucket(config.input_bucket)
    ensure_bucket(config.output_bucket)
    arns = {spec.name: ensure_queue(spec) for spec in all_queues(algorithms, config.name_prefix)}
    notify_uploads(config.input_bucket, arns[uploads_queue(config.name_prefix).name])
    return arns
