"""`pivfleet dlq`: a run's dead-lettered jobs with their reasons, and sending them back."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from pivfleet.cloud.deployment import Deployment
from pivfleet.core.messages import TileJob
from pivfleet.core.topology import SQS_MAX_BATCH_MESSAGES

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import MessageTypeDef

DLQ_PEEK_VISIBILITY_SECONDS = 2
DLQ_MAX_PEEKS = 100


def dead_letter_queues(deployment: Deployment) -> list[tuple[str, str]]:
    """(source queue name, DLQ url) for every jobs queue of this deployment."""
    prefix = f"{deployment.config.name_prefix}-jobs-"
    urls = deployment.sqs.list_queues(QueueNamePrefix=prefix).get("QueueUrls", [])
    return [(u.rsplit("/", 1)[1].removesuffix("-dlq"), u) for u in urls if u.endswith("-dlq")]


def peek(deployment: Deployment, dlq_url: str) -> list[MessageTypeDef]:
    """Every message in a DLQ, hidden while the pass runs so it sees each once; callers
    `release` what they leave behind so the next command sees it at once."""
    seen: dict[str, MessageTypeDef] = {}
    for _ in range(DLQ_MAX_PEEKS):
        response = deployment.sqs.receive_message(
            QueueUrl=dlq_url, MaxNumberOfMessages=SQS_MAX_BATCH_MESSAGES, WaitTimeSeconds=0,
            VisibilityTimeout=DLQ_PEEK_VISIBILITY_SECONDS, MessageAttributeNames=["All"],
        )  # fmt: skip
        batch = response.get("Messages", [])
        if not batch:
            break
        seen.update({m["MessageId"]: m for m in batch})
    return list(seen.values())


def release(deployment: Deployment, dlq_url: str, messages: list[MessageTypeDef]) -> None:
    for raw in messages:
        deployment.sqs.change_message_visibility(
            QueueUrl=dlq_url, ReceiptHandle=raw["ReceiptHandle"], VisibilityTimeout=0
        )


def describe(raw: MessageTypeDef, source: str) -> dict[str, Any]:
    attribute = raw.get("MessageAttributes", {}).get("reason")
    reason = attribute.get("StringValue") if attribute else None
    entry: dict[str, Any] = {"queue": source, "reason": reason or "exceeded the receive count"}
    try:
        job = TileJob.model_validate_json(raw["Body"])
        entry |= {"run": job.run, "pair": job.pair, "tile": job.tile.index}
    except ValidationError:
        entry |= {"run": None, "malformed": raw["Body"][:200]}
    return entry


def list_dead_letters(deployment: Deployment, run: str) -> list[dict[str, Any]]:
    letters = []
    for source, url in dead_letter_queues(deployment):
        messages = peek(deployment, url)
        letters += [describe(m, source) for m in messages]
        release(deployment, url, messages)
    return [e for e in letters if e["run"] in (run, None)]


def redrive(deployment: Deployment, run: str) -> int:
    """Move this run's dead jobs back to their queues for another try."""
    sqs, moved = deployment.sqs, 0
    for source, url in dead_letter_queues(deployment):
        source_url = sqs.get_queue_url(QueueName=source)["QueueUrl"]
        messages = peek(deployment, url)
        ours = [m for m in messages if describe(m, source)["run"] == run]
        for raw in ours:
            sqs.send_message(QueueUrl=source_url, MessageBody=raw["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=raw["ReceiptHandle"])
        release(deployment, url, [m for m in messages if m not in ours])
        moved += len(ours)
    return moved
