"""Pass-synchronous rounds on LocalStack: the collector reduces each pass of a tiled pair and
sends the next pass's jobs; a collector killed between two passes, a late pass result and a job
failing in the second pass never hang a run nor change a result they should not."""

from __future__ import annotations

import io
from collections import Counter

import numpy as np
import pytest
import xarray as xr

from pivfleet.cloud.bootstrap import bootstrap
from pivfleet.cloud.config import CloudConfig
from pivfleet.core.plan import RunPlan, plan_jobs
from pivfleet.core.spec import RunSpec
from pivfleet.core.vectors import FLAG_MISSING
from tests.integration.helpers import Cloud, Roles, wait_for
from tests.integration.test_crashes import RECOVERY_SECONDS, killed
from tests.integration.test_pipeline import SMALL_PIV, pair_frames

pytestmark = pytest.mark.usefixtures("localstack_endpoint")
PAIR = "p/exp1_001"


@pytest.fixture
def cloud(aws_prefix: str) -> Cloud:
    bootstrap(CloudConfig.from_env({"PIVFLEET_NAME_PREFIX": aws_prefix}), ["windef"])
    return Cloud(aws_prefix)


def tiled_spec(run: str) -> RunSpec:
    """Two passes (32 then 16 px windows), each in 128 px tiles: four jobs a pass."""
    return RunSpec(run=run, piv=SMALL_PIV, tiling=128)


def stored_plan(cloud: Cloud, run: str) -> RunPlan:
    [key] = cloud.work_keys(run, "plan.json")
    return RunPlan.model_validate_json(cloud.get(key))


def test_a_collector_killed_between_two_passes_sends_the_next_pass_once(
    cloud: Cloud, roles: Roles
) -> None:
    roles.start("dispatcher")
    worker = roles.start("worker", worker_processes="1")
    crashing = roles.start("tests.crashing_role", test_crash="collector:between_passes")
    cloud.submit(tiled_spec("between"), pair_frames("p"))
    killed(crashing, "the collector to die between the first and the second pass")
    assert cloud.work_keys("between", f"passes/{PAIR}/1/predictor.npy")
    assert not cloud.work_keys("between", f"passes/{PAIR}/1/jobs-sent")
    collector = roles.start("collector")
    summary = wait_for(lambda: cloud.summary("between"), RECOVERY_SECONDS, "the summary")
    assert summary["status"] == "done", summary
    second = Counter(r["tile"] for r in worker.messages("tile processed") if r["pass"] == 1)
    jobs = stored_plan(cloud, "between").pair(PAIR).pass_tiles[1]
    assert len(second) == jobs > 1 and set(second.values()) == {1}, second
    assert len(collector.messages("pass sent")) == 1


def test_a_pass_job_delivered_again_after_its_pass_was_reduced_changes_nothing(
    cloud: Cloud, roles: Roles
) -> None:
    roles.start("dispatcher")
    worker = roles.start("worker", worker_processes="1")
    collector = roles.start("collector")
    cloud.submit(tiled_spec("late"), pair_frames("p"))
    summary = wait_for(lambda: cloud.summary("late"), 120, "the summary")
    assert summary["status"] == "done", summary
    # run.nc follows the summary: the outputs are whole once the collector logs the run.
    wait_for(lambda: collector.messages("run finished"), 60, "the collector to log the run")
    outputs = {key: cloud.get(key) for key in cloud.output_keys("late/")}
    assert "late/run.nc" in outputs
    first_pass_job = plan_jobs(stored_plan(cloud, "late"))[0]
    assert first_pass_job.pass_index == 0
    cloud.sqs.send_message(
        QueueUrl=cloud.url("jobs-windef"), MessageBody=first_pass_job.model_dump_json()
    )
    jobs = stored_plan(cloud, "late").pair(PAIR).pass_tiles[0]
    wait_for(
        lambda: (
            len([r for r in worker.messages("tile processed") if r["pass"] == 0]) > jobs
            and cloud.idle("results")
        ),
        60,
        "the job done again and its result collected",
    )
    assert {key: cloud.get(key) for key in cloud.output_keys("late/")} == outputs
    assert len(collector.messages("pass sent")) == 1
    assert len(collector.messages("pair finished")) == 1


def test_a_job_failing_in_the_second_pass_leaves_its_vectors_missing(
    cloud: Cloud, roles: Roles
) -> None:
    roles.start("dispatcher")
    roles.start("collector")
    roles.start("tests.crashing_role", test_crash="worker:fails_pass_2", worker_processes="1")
    cloud.submit(tiled_spec("hole"), pair_frames("p"))
    summary = wait_for(lambda: cloud.summary("hole"), 120, "the summary")
    [pair] = summary["pairs"]
    assert (summary["status"], pair["status"]) == ("partial", "partial"), summary
    assert [p["failed_tiles"] for p in pair["passes"]] == [[], [0]], pair
    assert any("pass 2 of tile 0" in e and "injected fault" in e for e in pair["errors"]), pair
    with xr.open_dataset(io.BytesIO(cloud.get(f"hole/{PAIR}.nc"))) as field:
        missing = field.flags.values == FLAG_MISSING
        assert 0 < missing.sum() < missing.size / 2
        assert np.isnan(field.u.values[missing]).all()
        assert np.isfinite(field.u.values[~missing]).all()
