"""`pivfleet bootstrap`: buckets, queues with dead-letter queues, the run.json notification,
and each wrapped algorithm's spec in the output bucket (where the dispatcher plans by it).

Idempotent: run it as often as you like. Terraform builds the same topology on AWS.
"""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from pivfleet.cloud.config import CloudConfig
from pivfleet.cloud.deployment import Deployment
from pivfleet.cloud.runtime import when_reachable
from pivfleet.core.algorithm_spec import AlgorithmSpec
from pivfleet.core.topology import (
    DLQ_RETENTION_SECONDS,
    RUN_SPEC_FILENAME,
    QueueSpec,
    algorithm_spec_key,
    all_queues,
    uploads_queue,
)
from pivfleet.transports.aws_errors import error_code

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import (
        FilterRuleTypeDef,
        NotificationConfigurationTypeDef,
    )
    from mypy_boto3_sqs.literals import QueueAttributeNameType

CONNECT_ATTEMPTS = 30
BUCKET_OWNED_CODES = frozenset({"BucketAlreadyOwnedByYou", "BucketAlreadyExists"})


def ensure_bucket(deployment: Deployment, name: str) -> None:
    s3 = deployment.s3
    try:
        s3.create_bucket(Bucket=name, **bucket_location(s3.meta.region_name))
    except ClientError as error:
        if error_code(error) not in BUCKET_OWNED_CODES:
            raise


def bucket_location(region: str | None) -> dict[str, Any]:
    if region in (None, "us-east-1"):
        return {}
    return {"CreateBucketConfiguration": {"LocationConstraint": region}}


def redrive_policy(dlq_arn: str, max_receive_count: int) -> str:
    return json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)})


def ensure_queue(deployment: Deployment, spec: QueueSpec) -> str:
    """Create the DLQ, then the queue redriving into it; return the queue's ARN."""
    sqs = deployment.sqs
    retention: dict[QueueAttributeNameType, str] = {
        "MessageRetentionPeriod": str(DLQ_RETENTION_SECONDS)
    }
    dlq_url = sqs.create_queue(QueueName=spec.dlq_name, Attributes=retention)["QueueUrl"]
    attributes: dict[QueueAttributeNameType, str] = {
        "VisibilityTimeout": str(spec.visibility_timeout_seconds),
        "MessageRetentionPeriod": str(spec.retention_seconds),
        "RedrivePolicy": redrive_policy(queue_arn(deployment, dlq_url), spec.max_receive_count),
    }
    url = sqs.create_queue(QueueName=spec.name)["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
    return queue_arn(deployment, url)


def queue_arn(deployment: Deployment, url: str) -> str:
    attributes = deployment.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return attributes["Attributes"]["QueueArn"]


def notify_uploads(deployment: Deployment, uploads_arn: str) -> None:
    rule: FilterRuleTypeDef = {"Name": "suffix", "Value": RUN_SPEC_FILENAME}
    configuration: NotificationConfigurationTypeDef = {
        "QueueConfigurations": [
            {
                "Id": "pivfleet-run-spec",
                "QueueArn": uploads_arn,
                "Events": ["s3:ObjectCreated:*"],
                "Filter": {"Key": {"FilterRules": [rule]}},
            }
        ]
    }
    deployment.s3.put_bucket_notification_configuration(
        Bucket=deployment.config.input_bucket,
        NotificationConfiguration=configuration,
    )


def store_specs(deployment: Deployment, specs: list[AlgorithmSpec]) -> None:
    """Each spec as JSON at `algorithm_spec_key`: the dispatcher reads its tiling hints."""
    outputs = deployment.outputs()
    for spec in specs:
        text = spec.model_dump_json(by_alias=True, exclude_none=True)
        outputs.put(algorithm_spec_key(spec.name), text.encode())


def bootstrap(
    config: CloudConfig, algorithms: list[str], specs: list[AlgorithmSpec] | None = None
) -> dict[str, str]:
    """Create everything for `algorithms` (a jobs queue each) and store `specs`, the wrapped
    ones among them; return queue name → ARN."""
    deployment = Deployment.connect(config)
    when_reachable(
        lambda: deployment.sqs.list_queues(MaxResults=1),
        f"SQS at {deployment.endpoint}",
        threading.Event(),
        attempts=CONNECT_ATTEMPTS,
    )
    ensure_bucket(deployment, config.input_bucket)
    ensure_bucket(deployment, config.output_bucket)
    queues = all_queues(algorithms, config.name_prefix)
    arns = {spec.name: ensure_queue(deployment, spec) for spec in queues}
    notify_uploads(deployment, arns[uploads_queue(config.name_prefix).name])
    store_specs(deployment, specs or [])
    return arns
