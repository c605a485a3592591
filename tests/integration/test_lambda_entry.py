"""The Lambda handlers, resolved and called the way the Lambda runtime does it.

The handler names come from docker/dispatcher.Dockerfile: its `CMD` (the dispatcher) and its
`io.pivfleet.collector-handler` label (the collector Lambda is the same image with another
command). Each is resolved by the runtime interface client's own `_get_handler` (awslambdaric,
which is what the Lambda base image runs), in a fresh interpreter whose environment is set
before the import, as on Lambda where the handler modules read their settings at import time.

This lives under tests/integration because the collector dead-letters a malformed result, which
needs SQS (LocalStack).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest

from pivfleet.cloud.bootstrap import bootstrap
from pivfleet.cloud.config import CloudConfig

REPO = Path(__file__).resolve().parents[2]
DISPATCHER_DOCKERFILE = REPO / "docker" / "dispatcher.Dockerfile"
pytestmark = pytest.mark.usefixtures("localstack_endpoint")

# Runs in a fresh interpreter: resolve the handler string exactly as awslambdaric's bootstrap
# does, then call it with the event read from stdin, as the runtime calls it per invocation.
RUNTIME = """
import json, sys
from awslambdaric.bootstrap import _get_handler
handler = _get_handler(sys.argv[1])
print("RESULT " + json.dumps(handler(json.load(sys.stdin), None)))
"""


def dockerfile_cmd(path: Path) -> list[str]:
    """The exec-form `CMD` of the last stage (the last CMD in the file)."""
    cmds = re.findall(r"^CMD\s+(\[.*\])\s*$", path.read_text(encoding="utf-8"), re.MULTILINE)
    assert cmds, f"{path.name} has no exec-form CMD"
    cmd: list[str] = json.loads(cmds[-1])
    return cmd


def dockerfile_label(path: Path, name: str) -> str:
    match = re.search(rf'\b{re.escape(name)}="([^"]+)"', path.read_text(encoding="utf-8"))
    assert match, f"{path.name} has no label {name}"
    return match.group(1)


def dispatcher_handler() -> str:
    cmd = dockerfile_cmd(DISPATCHER_DOCKERFILE)
    assert len(cmd) == 1, f"the Lambda CMD is one handler name, got {cmd}"
    return cmd[0]


def collector_handler() -> str:
    return dockerfile_label(DISPATCHER_DOCKERFILE, "io.pivfleet.collector-handler")


def sqs_event(*bodies: str) -> dict[str, Any]:
    """An SQS event source batch, shaped as Lambda delivers it."""
    return {
        "Records": [
            {
                "messageId": f"m-{index}",
                "receiptHandle": f"r-{index}",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:queue",
                "awsRegion": "us-east-1",
            }
            for index, body in enumerate(bodies)
        ]
    }


def invoke(handler: str, event: dict[str, Any], prefix: str, cwd: Path) -> dict[str, Any]:
    """Call `handler` in a fresh interpreter with PIVFLEET_NAME_PREFIX set before the import."""
    import os

    env = dict(os.environ, PIVFLEET_NAME_PREFIX=prefix, PYTHONUNBUFFERED="1")
    done = subprocess.run(
        [sys.executable, "-c", RUNTIME, handler],
        input=json.dumps(event),
        cwd=cwd,  # not the repo: the handler modules must come from the installed package
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"{handler} raised:\n{done.stderr}"
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, f"{handler} returned nothing:\n{done.stdout}\n{done.stderr}"
    result: dict[str, Any] = json.loads(lines[-1].removeprefix("RESULT "))
    return result


def queue_messages(sqs: Any, name: str) -> list[dict[str, Any]]:
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    messages = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageAttributeNames=["All"]
    ).get("Messages", [])
    return list(messages)


def queue_counts(sqs: Any, name: str) -> tuple[int, int]:
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    visible, hidden = (int(attributes[n]) for n in names)
    return visible, hidden


@pytest.fixture
def prefix(aws_prefix: str) -> str:
    bootstrap(CloudConfig.from_env({"PIVFLEET_NAME_PREFIX": aws_prefix}), ["windef"])
    return aws_prefix


def test_handler_names_come_from_the_image() -> None:
    assert dispatcher_handler() == "dispatcher.handler.handle"
    assert collector_handler() == "collector.handler.handle"


def test_dispatcher_handler_ignores_the_s3_test_event(prefix: str, tmp_path: Path) -> None:
    """S3 sends s3:TestEvent to the queue when the bucket notification is set: not a run.

    The bootstrap's own notification produced one in the uploads queue; that real body is the
    event's record (a synthetic one stands in if this S3 did not send it)."""
    sqs, s3 = boto3.client("sqs"), boto3.client("s3")
    received = [m["Body"] for m in queue_messages(sqs, f"{prefix}-uploads")]
    bodies = [b for b in received if json.loads(b).get("Event") == "s3:TestEvent"] or [
        json.dumps(
            {
                "Service": "Amazon S3",
                "Event": "s3:TestEvent",
                "Time": "2025-01-01T00:00:00.000Z",
                "Bucket": f"{prefix}-input",
                "RequestId": "TEST",
                "HostId": "TEST",
            }
        )
    ]
    result = invoke(dispatcher_handler(), sqs_event(*bodies), prefix, tmp_path)
    assert result == {"batchItemFailures": []}
    for queue in ("jobs-windef", "jobs-windef-dlq", "results", "uploads-dlq"):
        assert queue_counts(sqs, f"{prefix}-{queue}") == (0, 0), queue
    assert s3.list_objects_v2(Bucket=f"{prefix}-output").get("KeyCount", 0) == 0


def test_collector_handler_dead_letters_a_malformed_result(prefix: str, tmp_path: Path) -> None:
    bodies = ["this is not json", json.dumps({"kind": "tile_result", "run": "x"})]
    result = invoke(collector_handler(), sqs_event(*bodies), prefix, tmp_path)
    # Poison pills are not failures to retry: they go to the DLQ at once, the batch succeeds.
    assert result == {"batchItemFailures": []}
    sqs = boto3.client("sqs")
    letters = queue_messages(sqs, f"{prefix}-results-dlq")
    letters += queue_messages(sqs, f"{prefix}-results-dlq") if len(letters) < 2 else []
    assert sorted(m["Body"] for m in letters) == sorted(bodies)
    for letter in letters:
        assert letter["MessageAttributes"]["reason"]["StringValue"]
    s3 = boto3.client("s3")
    assert s3.list_objects_v2(Bucket=f"{prefix}-output").get("KeyCount", 0) == 0
