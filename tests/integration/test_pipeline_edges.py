"""Edges of the queue pipeline on LocalStack: unrelated notifications, an unknown algorithm at
submit, unpaired frames, redriving a dead letter, and `pivfleet status` on a planned run.

The dispatcher's Lambda handler runs in this process (as Lambda would call it), pointed at the
test's own deployment; the CLI runs as a subprocess.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from pivfleet.cloud.bootstrap import bootstrap
from pivfleet.cloud.config import CloudConfig
from pivfleet.core.keys import new_generation
from pivfleet.core.messages import TileJob
from pivfleet.core.plan import PairPlan, RunPlan, make_job
from pivfleet.core.spec import PivSettings, RunSpec
from pivfleet.core.tiling import plan_tiles
from pivfleet.core.topology import algorithm_spec_key
from tests.integration.helpers import Cloud, cli, wait_for
from tests.integration.test_pipeline import FRAME_A, FRAME_B, noop_spec

pytestmark = pytest.mark.usefixtures("localstack_endpoint")
EXAMPLE_SPEC = Path(__file__).parents[2] / "examples" / "c_algorithm" / "algorithm.cwl.yml"
Handle = Callable[[dict[str, Any], Any], dict[str, Any]]


@pytest.fixture
def cloud(aws_prefix: str) -> Cloud:
    bootstrap(CloudConfig.from_env({"PIVFLEET_NAME_PREFIX": aws_prefix}), ["noop"])
    return Cloud(aws_prefix)


@pytest.fixture
def handle(aws_prefix: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Handle]:
    """`dispatcher.handler.handle` for this test's deployment, its settings read from the
    environment as on Lambda.

    Reading them installs the JSON log handler on the root logger (as a Lambda entry should); undo
    that so the rest of the session logs as before."""
    from dispatcher import handler

    monkeypatch.setenv("PIVFLEET_NAME_PREFIX", aws_prefix)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    caches = (handler.deployment, handler.dispatcher, handler.uploads)
    for cached in caches:
        cached.cache_clear()
    handler.deployment()
    root.handlers[:], root.level = handlers, level
    yield handler.handle
    for cached in caches:
        cached.cache_clear()
    root.handlers[:], root.level = handlers, level


def sqs_event(*bodies: str) -> dict[str, Any]:
    """What Lambda's SQS event source hands the dispatcher."""
    return {
        "Records": [
            {"messageId": f"m{i}", "receiptHandle": f"r{i}", "body": body, "eventSource": "aws:sqs"}
            for i, body in enumerate(bodies)
        ]
    }


def s3_created(bucket: str, *keys: str) -> str:
    """An S3 ObjectCreated notification body; keys URL-encoded as S3 sends them."""
    from urllib.parse import quote_plus

    records = [
        {
            "eventSource": "aws:s3",
            "eventName": "ObjectCreated:Put",
            "eventTime": "2026-11-24T06:00:00.000Z",
            "s3": {
                "bucket": {"name": bucket},
                "object": {"key": quote_plus(key), "size": 1, "sequencer": f"00{index:016X}"},
            },
        }
        for index, key in enumerate(keys)
    ]
    return json.dumps({"Records": records})


def test_unrelated_keys_and_test_events_are_ignored(
    cloud: Cloud, handle: Handle, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="pivfleet.roles.dispatcher")
    cloud.put("r1/frame_a.tif", FRAME_A)
    unrelated = s3_created(cloud.input, "r1/frame_a.tif", "r1/cam 1/run.json", "notes+ü.txt")
    test_event = json.dumps({
        "Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2024-01-01T00:00:00.000Z",
        "Bucket": cloud.input, "RequestId": "X", "HostId": "Y",
    })  # fmt: skip
    assert handle(sqs_event(unrelated, test_event), None) == {"batchItemFailures": []}
    ignored = [r for r in caplog.records if r.getMessage() == "ignoring unrelated key"]
    assert [getattr(r, "key", None) for r in ignored] == [
        "r1/frame_a.tif", "r1/cam 1/run.json", "notes+ü.txt"
    ]  # fmt: skip
    assert {r.levelno for r in ignored} == {logging.DEBUG}
    assert cloud.output_keys("") == []
    assert cloud.idle("jobs-noop")


def test_submit_refuses_an_unknown_algorithm(cloud: Cloud, aws_prefix: str, tmp_path: Path) -> None:
    (tmp_path / "exp1_001_a.bmp").write_bytes(FRAME_A)
    (tmp_path / "exp1_001_b.bmp").write_bytes(FRAME_B)
    result = cli(aws_prefix, "submit", str(tmp_path), "--run", "x", "--algorithm", "nosuch")
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "nosuch" in result.stderr
    assert cloud.s3.list_objects_v2(Bucket=cloud.input).get("KeyCount") == 0


def test_submit_checks_parameters_against_the_stored_spec(
    cloud: Cloud, aws_prefix: str, tmp_path: Path
) -> None:
    """A wrapped algorithm installed only in the deployment (its spec stored by bootstrap) has
    its parameters checked before any frame is uploaded, as one installed here would."""
    spec = yaml.safe_load(EXAMPLE_SPEC.read_text())
    key = algorithm_spec_key(spec["id"])
    cloud.s3.put_object(Bucket=cloud.output, Key=key, Body=json.dumps(spec).encode())
    (tmp_path / "exp1_001_a.bmp").write_bytes(FRAME_A)
    (tmp_path / "exp1_001_b.bmp").write_bytes(FRAME_B)
    argv = ["submit", str(tmp_path), "--run", "x", "--algorithm", spec["id"]]
    result = cli(aws_prefix, *argv, "--param", "serch=3")
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "--param" in result.stderr and "unknown ['serch']" in result.stderr, result.stderr
    assert "search" in result.stderr, "the message names the parameters the spec takes"
    assert cloud.s3.list_objects_v2(Bucket=cloud.input).get("KeyCount") == 0


def test_parameters_the_algorithm_refuses_reject_the_run(
    cloud: Cloud, handle: Handle, aws_prefix: str
) -> None:
    """A run.json uploaded without pivfleet (the AWS CLI) is checked by the dispatcher: the run
    is rejected, saying why, instead of every pair failing on a worker."""
    bootstrap(CloudConfig.from_env({"PIVFLEET_NAME_PREFIX": aws_prefix}), ["windef"])
    spec = RunSpec(run="badparam", algorithm="windef", algorithm_parameters={"bogus": 1})
    cloud.submit(spec, {"x_a.bmp": FRAME_A, "x_b.bmp": FRAME_B})
    event = sqs_event(s3_created(cloud.input, "badparam/run.json"))
    assert handle(event, None) == {"batchItemFailures": []}
    summary = cloud.summary("badparam")
    assert summary is not None
    assert summary["status"] == "rejected", summary
    assert "unknown ['bogus']" in str(summary["message"]), summary
    assert not cloud.work_keys("badparam", "plan.json"), "nothing was planned"


def test_unpaired_frames_reject_the_run(cloud: Cloud, handle: Handle, aws_prefix: str) -> None:
    cloud.put("lonely/x_a.bmp", FRAME_A)
    spec = noop_spec("lonely").model_copy(update={"frames": 1})  # declared: no settle wait
    cloud.put("lonely/run.json", spec.model_dump_json().encode())
    assert handle(sqs_event(s3_created(cloud.input, "lonely/run.json")), None) == {
        "batchItemFailures": []
    }
    summary = cloud.summary("lonely")
    assert summary is not None
    assert summary["status"] == "rejected"
    assert "lonely/x_a.bmp" in str(summary["message"]), summary
    assert cloud.output_keys("runs/lonely/") == ["runs/lonely/current"]  # nothing planned
    assert cloud.idle("jobs-noop")
    status = cli(aws_prefix, "status", "lonely")
    assert "rejected" in status.stdout and "x_a.bmp" in status.stdout, status


def dead_job(run: str) -> TileJob:
    spec = RunSpec(run=run, algorithm="noop", piv=PivSettings(windows=(32, 16), overlaps=(16, 8)))
    pair = PairPlan(
        name="p/exp1_001", frame_a=f"{run}/p/exp1_001_a.bmp", frame_b=f"{run}/p/exp1_001_b.bmp",
        image_shape=(369, 511), grid_shape=(45, 62),
    )  # fmt: skip
    tile = plan_tiles(pair.image_shape, spec.piv, 256)[1]
    return make_job(RunPlan(spec=spec, generation=new_generation(), pairs=[pair]), pair, tile, 4)


def bodies(cloud: Cloud, queue: str) -> list[str]:
    """One look at a queue's messages, left in place. (`Cloud.drain` receives up to 20 times,
    which on a jobs queue would exceed maxReceiveCount and dead-letter what it looks at.)"""
    url = cloud.url(queue)
    found = cloud.sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, VisibilityTimeout=0
    ).get("Messages", [])
    return [m["Body"] for m in found]


def test_dlq_redrive_moves_the_run_jobs_back(cloud: Cloud, aws_prefix: str) -> None:
    ours, theirs = dead_job("redo").model_dump_json(), dead_job("other").model_dump_json()
    reason = {"reason": {"DataType": "String", "StringValue": "boom"}}
    for body in (ours, theirs):
        cloud.sqs.send_message(
            QueueUrl=cloud.url("jobs-noop-dlq"), MessageBody=body, MessageAttributes=reason
        )
    before = cli(aws_prefix, "dlq", "redo")  # listing must not hide letters from the redrive
    assert '"run": "redo"' in before.stdout, before
    result = cli(aws_prefix, "dlq", "redo", "--redrive")
    assert result.returncode == 0, result.stderr
    assert "moved 1 " in result.stdout
    assert bodies(cloud, "jobs-noop") == [ours]
    assert cloud.counts("jobs-noop-dlq") == (1, 0)  # the other run's letter is visible again
    assert [m["Body"] for m in cloud.drain("jobs-noop-dlq")] == [theirs]
    listed = cli(aws_prefix, "dlq", "other")
    entries = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(e["run"], e["tile"], e["reason"]) for e in entries] == [("other", 1, "boom")]
    assert listed.returncode == 1


def test_status_shows_progress_of_a_planned_run(
    cloud: Cloud, handle: Handle, aws_prefix: str
) -> None:
    for folder in ("p", "q"):
        cloud.put(f"prog/{folder}/exp1_001_a.bmp", FRAME_A)
        cloud.put(f"prog/{folder}/exp1_001_b.bmp", FRAME_B)
    spec = noop_spec("prog").model_copy(update={"frames": 4})  # declared: no settle wait
    cloud.put("prog/run.json", spec.model_dump_json().encode())
    assert handle(sqs_event(s3_created(cloud.input, "prog/run.json")), None) == {
        "batchItemFailures": []
    }
    assert cloud.counts("jobs-noop")[0] == 8
    status = cli(aws_prefix, "status", "prog")
    assert status.returncode == 0, status.stderr
    assert "pairs 0/2" in status.stdout and "tiles 0/8" in status.stdout, status.stdout
    for command in ("status", "results", "dlq"):
        extra = ["--out", "ignored"] if command == "results" else []
        unknown = cli(aws_prefix, command, "nothing-yet", *extra)
        assert unknown.returncode == 2, (command, unknown)
        assert "no run 'nothing-yet'" in unknown.stderr and "pivfleet submit" in unknown.stderr
    empty = cli(aws_prefix, "dlq", "prog")
    assert (empty.returncode, empty.stdout) == (0, "no dead-lettered jobs for prog\n"), empty


def test_a_transient_failure_comes_back_in_seconds_not_the_queue_timeout(
    cloud: Cloud, handle: Handle
) -> None:
    """The uploads queue hides a received message for 1,800 s (6 × the Lambda timeout); a
    dispatcher that fails on a transient error hands it back after its backoff instead."""
    cloud.s3.delete_bucket(Bucket=cloud.input)  # every read now fails: NoSuchBucket
    body = s3_created(cloud.input, "gone/run.json")
    cloud.sqs.send_message(QueueUrl=cloud.url("uploads"), MessageBody=body)
    taken = cloud.sqs.receive_message(
        QueueUrl=cloud.url("uploads"), MaxNumberOfMessages=10, WaitTimeSeconds=1
    )["Messages"]
    [received] = [m for m in taken if m["Body"] == body]  # beside the s3:TestEvent
    event = {
        "Records": [
            {
                "messageId": received["MessageId"],
                "receiptHandle": received["ReceiptHandle"],
                "body": received["Body"],
                "attributes": {"ApproximateReceiveCount": "1"},
                "eventSource": "aws:sqs",
            }
        ]
    }
    started = time.monotonic()
    assert handle(event, None) == {"batchItemFailures": [{"itemIdentifier": received["MessageId"]}]}
    back = wait_for(
        lambda: [m for m in bodies(cloud, "uploads") if m == body],
        30,
        "the message to be visible again",
        every=0.5,
    )
    assert back == [body] and time.monotonic() - started < 15
