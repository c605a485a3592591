"""A cloud run through S3 and SQS (LocalStack, the roles as processes) counts what it used:
every role's requests and bytes, the workers' time at their size, and what it kept."""

from __future__ import annotations

from pathlib import Path

import openpiv
import pytest

from pivfleet.cloud.bootstrap import bootstrap
from pivfleet.cloud.config import CloudConfig
from pivfleet.core.cost import Prices, estimate_cost
from pivfleet.core.spec import PivSettings, RunSpec
from pivfleet.core.summary import RunSummary
from tests.integration.helpers import Cloud, Roles, cli, wait_for

SAMPLE = Path(openpiv.__file__).parent / "data" / "test1"
FRAMES = {f"p/exp1_001_{x}.bmp": (SAMPLE / f"exp1_001_{x}.bmp").read_bytes() for x in "ab"}
pytestmark = pytest.mark.usefixtures("localstack_endpoint")


@pytest.fixture
def cloud(aws_prefix: str) -> Cloud:
    bootstrap(CloudConfig.from_env({"PIVFLEET_NAME_PREFIX": aws_prefix}), ["windef"])
    return Cloud(aws_prefix)


def kept_bytes(cloud: Cloud, run: str) -> int:
    """The sizes of the pairs' outputs in the bucket: the summary, and the run's own files
    written after it, aside."""
    pages = cloud.s3.get_paginator("list_objects_v2").paginate(Bucket=cloud.output, Prefix=run)
    objects = [o for page in pages for o in page.get("Contents", [])]
    after = ("summary.json", "run.nc", "run.png")
    return sum(o["Size"] for o in objects if not o["Key"].endswith(after))


def test_a_cloud_run_counts_its_requests_bytes_and_worker_time(
    cloud: Cloud, roles: Roles, aws_prefix: str
) -> None:
    roles.start("dispatcher")
    roles.start("collector")
    roles.start("worker", worker_processes="1", worker_vcpu="2", worker_memory_gb="8")
    piv = PivSettings(windows=(32, 16), overlaps=(16, 8), engine="fast")
    cloud.submit(RunSpec(run="cost", piv=piv, tiling=128), FRAMES)  # tiled pass by pass
    found = wait_for(lambda: cloud.summary("cost"), 120, "cost/summary.json")
    summary = RunSummary.model_validate(found)
    assert summary.status == "done" and summary.usage is not None, found
    workers, jobs = summary.usage.workers, summary.tiles
    assert workers.requests.sqs_receive >= jobs and workers.requests.sqs_send >= jobs
    assert workers.requests.s3_get > jobs and workers.requests.s3_put >= jobs
    assert workers.vcpu_seconds == pytest.approx(2 * workers.worker_seconds, abs=0.01)
    assert workers.gb_seconds == pytest.approx(8 * workers.worker_seconds, abs=0.01)
    dispatcher, frame_bytes = summary.usage.dispatcher, sum(map(len, FRAMES.values()))
    # run.json, each frame's first bytes for its header, then each frame whole to copy it
    # into strips: the frames are read once, not twice.
    assert dispatcher.requests.s3_get >= 5
    assert frame_bytes <= dispatcher.bytes_read < 2 * frame_bytes
    assert dispatcher.requests.sqs_send >= 1 and dispatcher.requests.s3_put >= 3
    collector = summary.usage.collector
    assert collector.requests.sqs_send >= 1  # the second pass's jobs
    assert collector.requests.s3_put >= jobs  # a record a result
    assert collector.bytes_kept == kept_bytes(cloud, "cost/")
    assert summary.cost == estimate_cost(summary.usage.total, Prices())
    assert "cost: " in cli(aws_prefix, "status", "cost").stdout
