"""Crash-consistent runs on LocalStack: a role killed at an exact step never hangs a run.

Each crashing role is `tests/crashing_role.py`: the real role, dying (exit 137, nothing
settled, as `kill -9`) at one named point. Its successor finds the step done and does the next
one; messages a dead poller held come back after its short lease, in seconds.
"""

from __future__ import annotations

import time

import pytest

from pivfleet.cloud.bootstrap import bootstrap
from pivfleet.cloud.config import CloudConfig
from pivfleet.core.topology import MAX_ATTEMPTS, POLLER_LEASE_SECONDS
from tests.crashing_role import KILLED_EXIT_CODE
from tests.integration.helpers import Cloud, Role, Roles, cli, wait_for
from tests.integration.test_pipeline import noop_spec, pair_frames

pytestmark = pytest.mark.usefixtures("localstack_endpoint")
RECOVERY_SECONDS = POLLER_LEASE_SECONDS + 60
"""A lease to run out and a run to finish: seconds, never the queue's 30-minute visibility."""


@pytest.fixture
def cloud(aws_prefix: str) -> Cloud:
    bootstrap(CloudConfig.from_env({"PIVFLEET_NAME_PREFIX": aws_prefix}), ["noop"])
    return Cloud(aws_prefix)


def killed(role: Role, what: str) -> None:
    wait_for(lambda: role.process.poll() is not None, 60, what)
    assert role.process.returncode == KILLED_EXIT_CODE, role.log.read_text()[-2000:]


@pytest.mark.parametrize("point", ["before_plan", "before_jobs", "mid_send"])
def test_a_dispatcher_killed_at_any_step_is_resumed(cloud: Cloud, roles: Roles, point: str) -> None:
    run = f"d-{point.replace('_', '-')}"
    roles.start("worker", algorithm="noop", worker_processes="1")
    collector = roles.start("collector")
    crashing = roles.start("tests.crashing_role", test_crash=f"dispatcher:{point}")
    cloud.submit(noop_spec(run, tiling=64), pair_frames("p"))
    killed(crashing, f"the dispatcher to die {point.replace('_', ' ')}")
    assert cloud.summary(run) is None
    roles.start("dispatcher")
    summary = wait_for(lambda: cloud.summary(run), RECOVERY_SECONDS, f"{run}/summary.json")
    assert summary["status"] == "done", summary
    assert summary["tiles"] > 10, "enough jobs for more than one SendMessageBatch"
    assert cloud.output_keys(f"{run}/p/") == [f"{run}/p/exp1_001.nc", f"{run}/p/exp1_001.txt"]
    # The summary lands before the collector assembles run.nc and logs, so wait for its log.
    wait_for(lambda: collector.messages("run finished"), 60, "the collector to log the run")
    assert len(collector.messages("pair finished")) == 1
    assert len(collector.messages("run finished")) == 1


def test_a_collector_killed_before_the_summary_is_resumed(cloud: Cloud, roles: Roles) -> None:
    roles.start("dispatcher")
    roles.start("worker", algorithm="noop", worker_processes="1")
    crashing = roles.start("tests.crashing_role", test_crash="collector:before_summary")
    cloud.submit(noop_spec("c", tiling="none"), pair_frames("p", "q"))
    killed(crashing, "the collector to die between the last pair and the summary")
    assert len(cloud.work_keys("c", "pairs/")) == 2 and cloud.summary("c") is None
    roles.start("collector")
    summary = wait_for(lambda: cloud.summary("c"), RECOVERY_SECONDS, "c/summary.json")
    assert (summary["status"], summary["pairs_done"]) == ("done", 2), summary


def test_a_job_whose_worker_dies_on_every_delivery_fails_its_pair(
    cloud: Cloud, roles: Roles
) -> None:
    roles.start("dispatcher")
    roles.start("collector")
    cloud.submit(noop_spec("oom", tiling="none"), pair_frames("p"))
    settings = {"algorithm": "noop", "worker_processes": "1", "visibility_seconds": "2"}
    deaths, deadline = 0, time.monotonic() + 120
    while cloud.summary("oom") is None and time.monotonic() < deadline:
        worker = roles.start("tests.crashing_role", test_crash="worker:every_tile", **settings)
        wait_for(
            lambda w=worker: w.process.poll() is not None or cloud.summary("oom"), 30, "a death"
        )
        deaths += worker.process.poll() == KILLED_EXIT_CODE
    summary = cloud.summary("oom")
    assert summary is not None, "the run never finished"
    assert deaths == MAX_ATTEMPTS
    [pair] = summary["pairs"]
    assert summary["status"] == "failed" and pair["status"] == "failed", summary
    assert "died on every delivery" in pair["errors"][0], pair
    [letter] = cloud.drain("jobs-noop-dlq")
    assert "died on every delivery" in letter["MessageAttributes"]["reason"]["StringValue"]


def test_a_malformed_upload_notification_is_dead_lettered_at_once(
    cloud: Cloud, roles: Roles
) -> None:
    cloud.sqs.send_message(QueueUrl=cloud.url("uploads"), MessageBody="not a notification")
    roles.start("dispatcher")
    started = time.monotonic()
    [letter] = wait_for(lambda: cloud.drain("uploads-dlq"), 60, "the uploads dead letter")
    assert time.monotonic() - started < 60
    assert letter["Body"] == "not a notification"
    assert "not an S3 notification" in letter["MessageAttributes"]["reason"]["StringValue"]


def test_reconcile_reports_a_dead_lettered_job_and_finishes_the_run(
    cloud: Cloud, roles: Roles, aws_prefix: str
) -> None:
    """A job SQS moved to the dead-letter queue on its own (no worker reported it)."""
    roles.start("dispatcher")
    cloud.submit(noop_spec("dlq", tiling="none"), pair_frames("p"))
    wait_for(lambda: cloud.counts("jobs-noop")[0] == 1, 30, "the job")
    [job] = cloud.sqs.receive_message(QueueUrl=cloud.url("jobs-noop"))["Messages"]
    cloud.sqs.send_message(QueueUrl=cloud.url("jobs-noop-dlq"), MessageBody=job["Body"])
    cloud.sqs.delete_message(QueueUrl=cloud.url("jobs-noop"), ReceiptHandle=job["ReceiptHandle"])
    status = cli(aws_prefix, "status", "dlq")
    assert "stalled: 1 jobs in the dead-letter queue without a result" in status.stdout, status

    reconciled = cli(aws_prefix, "reconcile", "dlq", "--stale-after", "0")
    assert reconciled.returncode == 0, reconciled.stderr
    assert (
        "dlq: stalled: 1 jobs in the dead-letter queue without a result → reported them failed"
        in (reconciled.stdout)
    )
    summary = cloud.summary("dlq")
    assert summary is not None and summary["status"] == "failed", summary
    assert summary["pairs"][0]["errors"] == ["dead-lettered: exceeded the receive count"]
    assert len(cloud.drain("jobs-noop-dlq")) == 1, "left in the DLQ for `pivfleet dlq --redrive`"


def test_reconcile_writes_a_missing_summary_and_resends_unsent_jobs(
    cloud: Cloud, roles: Roles, aws_prefix: str
) -> None:
    dispatcher = roles.start("dispatcher")
    roles.start("worker", algorithm="noop", worker_processes="1")
    crashing = roles.start("tests.crashing_role", test_crash="collector:before_summary")
    cloud.submit(noop_spec("nosum", tiling="none"), pair_frames("p"))
    killed(crashing, "the collector to die before the summary")
    assert (
        "stalled: every pair finished, summary missing" in cli(aws_prefix, "status", "nosum").stdout
    )
    dry = cli(aws_prefix, "reconcile", "--dry-run", "--stale-after", "0")
    assert "nosum: stalled: every pair finished, summary missing\n" in dry.stdout, dry.stdout
    assert cloud.summary("nosum") is None
    fixed = cli(aws_prefix, "reconcile", "--stale-after", "0")
    assert (
        "nosum: stalled: every pair finished, summary missing → wrote the summary" in fixed.stdout
    )
    assert cloud.summary("nosum")["status"] == "done"  # type: ignore[index]

    dispatcher.stop()  # the next run's notification must reach the crashing dispatcher
    stuck = roles.start("tests.crashing_role", test_crash="dispatcher:before_jobs")
    cloud.submit(noop_spec("unsent", tiling="none"), pair_frames("p"))
    killed(stuck, "the dispatcher to die after the plan")
    again = cli(aws_prefix, "reconcile", "unsent", "--stale-after", "0")
    assert "unsent: stalled: plan written, jobs not sent → dispatched it again" in again.stdout
    roles.start("collector")
    summary = wait_for(lambda: cloud.summary("unsent"), 60, "unsent/summary.json")
    assert summary["status"] == "done", summary
