"""`pivfleet dlq`: a run's dead-lettered jobs with their reasons, and sending them back."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from pivfleet.cloud.deployment import Deployment
from pivfleet.core.messages import TileJob
from pivfleet.core.plan import RunPlan
from pivfleet.core.topology import SQS_MAX_BATCH_MESSAGES, jobs_queue

if TYPE_CHECKING:
    from mypy_boto3_sqs.literals import QueueAttributeNameType
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


def reason_of(raw: MessageTypeDef) -> str:
    attribute = raw.get("MessageAttributes", {}).get("reason")
    reason = attribute.get("StringValue") if attribute else None
    return reason or "exceeded the receive count"


def job_of(raw: MessageTypeDef) -> TileJob | None:
    try:
        return TileJob.model_validate_json(raw["Body"])
    except ValidationError:
        return None


def describe(raw: MessageTypeDef, source: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"queue": source, "reason": reason_of(raw)}
    job = job_of(raw)
    if job is None:
        return entry | {"run": None, "malformed": raw["Body"][:200]}
    return entry | {"run": job.run, "pair": job.pair, "tile": job.tile.index}


def holds_messages(deployment: Deployment, url: str) -> bool:
    names: list[QueueAttributeNameType] = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
    ]
    counts = deployment.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)
    return any(int(value) for value in counts["Attributes"].values())


def dead_jobs(deployment: Deployment, plan: RunPlan) -> list[tuple[TileJob, str]]:
    """The plan's jobs in its algorithms' dead-letter queues, with their reasons (left there)."""
    found = []
    for algorithm in plan.spec.algorithms:
        name = jobs_queue(algorithm, deployment.config.name_prefix).dlq_name
        found += dead_jobs_in(deployment, deployment.sqs.get_queue_url(QueueName=name)["QueueUrl"])
    run, generation = plan.spec.run, plan.generation
    return [
        (job, reason) for job, reason in found if (job.run, job.generation) == (run, generation)
    ]


def dead_jobs_in(deployment: Deployment, url: str) -> list[tuple[TileJob, str]]:
    if not holds_messages(deployment, url):
        return []
    messages = peek(deployment, url)
    release(deployment, url, messages)
    jobs = [(job_of(raw), reason_of(raw)) for raw in messages]
    return [(job, reason) for job, reason in jobs if job is not None]


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
