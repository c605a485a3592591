"""Names and timings of the queues and buckets, shared by `pivfleet bootstrap` and Terraform,
and the SQS limits every transport respects.

Terraform (`terraform/`) repeats these values; `tests/unit/test_terraform_consistency.py`
fails when the two drift apart.
"""

from dataclasses import dataclass

DEFAULT_NAME_PREFIX = "pivfleet"
DEFAULT_ALGORITHM = "windef"

JOB_VISIBILITY_TIMEOUT_SECONDS = 120
"""How long a received tile job stays hidden before the heartbeat must extend it."""
HEARTBEAT_INTERVAL_SECONDS = 30
"""A worker extends visibility this often; well under the timeout so one missed beat is harmless."""
RESULT_VISIBILITY_TIMEOUT_SECONDS = 120
POLLER_LEASE_SECONDS = 20
"""A dispatcher or collector poller holds a message this long, renewed while it works: after a
crash the message is back in seconds, not after the queue's (Lambda-sized) timeout."""
POLLER_RENEW_SECONDS = 5
DISPATCHER_TIMEOUT_SECONDS = 300
"""The dispatcher Lambda's timeout; AWS asks for a source-queue visibility of six times it."""
UPLOAD_VISIBILITY_TIMEOUT_SECONDS = 6 * DISPATCHER_TIMEOUT_SECONDS
MAX_ATTEMPTS = 5
"""Deliveries a role works on a message; the last failing one gives up with the cause."""
MAX_RECEIVE_COUNT = MAX_ATTEMPTS + 1
"""Deliveries before SQS moves a message to the dead-letter queue. The one past the attempts
comes only when every attempt died without settling the message (killed, out of memory, a
crashing algorithm): the role reports that instead of working on it again."""
MESSAGE_RETENTION_SECONDS = 4 * 24 * 3600
DLQ_RETENTION_SECONDS = 14 * 24 * 3600
"""Dead letters are kept for the SQS maximum so a failed tile can still be redriven."""
TILE_RESULT_EXPIRY_DAYS = 7
"""Intermediate tile results under `runs/` expire after this many days."""
RUN_SPEC_FILENAME = "run.json"
ALGORITHM_SPECS_PREFIX = "algorithms/"
"""Where `pivfleet bootstrap` stores each wrapped algorithm's spec in the output bucket
(`algorithm_spec_key`), so a dispatcher that does not have the spec plans its pairs by it.
A run's outputs share the bucket, so `algorithms` is a reserved run id (`core/spec.py`)."""

SQS_MAX_BATCH_MESSAGES = 10
"""SendMessageBatch, ReceiveMessage and Lambda's SQS batches take at most 10 messages here."""
SQS_MAX_WAIT_SECONDS = 20
"""SQS caps a receive's long poll at 20 s."""


@dataclass(frozen=True)
class QueueSpec:
    """One SQS queue and its dead-letter queue."""

    name: str
    visibility_timeout_seconds: int
    max_receive_count: int = MAX_RECEIVE_COUNT
    retention_seconds: int = MESSAGE_RETENTION_SECONDS

    @property
    def dlq_name(self) -> str:
        return f"{self.name}-dlq"


def uploads_queue(prefix: str = DEFAULT_NAME_PREFIX) -> QueueSpec:
    return QueueSpec(f"{prefix}-uploads", UPLOAD_VISIBILITY_TIMEOUT_SECONDS)


def jobs_queue(algorithm: str, prefix: str = DEFAULT_NAME_PREFIX) -> QueueSpec:
    return QueueSpec(f"{prefix}-jobs-{algorithm}", JOB_VISIBILITY_TIMEOUT_SECONDS)


def results_queue(prefix: str = DEFAULT_NAME_PREFIX) -> QueueSpec:
    return QueueSpec(f"{prefix}-results", RESULT_VISIBILITY_TIMEOUT_SECONDS)


def all_queues(algorithms: list[str], prefix: str = DEFAULT_NAME_PREFIX) -> list[QueueSpec]:
    """Every queue a deployment needs, in creation order."""
    jobs = [jobs_queue(name, prefix) for name in algorithms]
    return [uploads_queue(prefix), *jobs, results_queue(prefix)]


def input_bucket(prefix: str = DEFAULT_NAME_PREFIX) -> str:
    return f"{prefix}-input"


def output_bucket(prefix: str = DEFAULT_NAME_PREFIX) -> str:
    return f"{prefix}-output"


def algorithm_spec_key(algorithm: str) -> str:
    """The output bucket's copy of a wrapped algorithm's spec (JSON, CWL's keys)."""
    return f"{ALGORITHM_SPECS_PREFIX}{algorithm}.cwl.json"
