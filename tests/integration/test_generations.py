"""A run id names one submission: resubmitting is refused or replaces every output, and a
`run.json` uploaded again is a new generation (LocalStack, roles as processes)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import xarray as xr

from pivfleet.cloud.bootstrap import bootstrap
from pivfleet.cloud.config import CloudConfig
from pivfleet.roles.dispatcher import SETTLE_SECONDS
from tests.integration.helpers import Cloud, Roles, cli, wait_for
from tests.integration.test_pipeline import RUN_TIMEOUT, noop_spec, pair_frames

pytestmark = pytest.mark.usefixtures("localstack_endpoint")


@pytest.fixture
def cloud(aws_prefix: str) -> Cloud:
    bootstrap(CloudConfig.from_env({"PIVFLEET_NAME_PREFIX": aws_prefix}), ["noop"])
    return Cloud(aws_prefix)


@pytest.fixture
def pipeline(roles: Roles) -> Roles:
    """Dispatcher, collector and a noop worker, running."""
    for role in ("dispatcher", "collector"):
        roles.start(role)
    roles.start("worker", algorithm="noop", worker_processes="1")
    return roles


def write_frames(folder: Path, *pairs: str) -> Path:
    for name, data in pair_frames(*pairs).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return folder


def summary_of(cloud: Cloud, run: str, not_generation: str | None = None) -> dict[str, object]:
    def finished() -> dict[str, object] | None:
        summary = cloud.summary(run)
        return summary if summary and summary.get("generation") != not_generation else None

    return wait_for(finished, RUN_TIMEOUT, f"{run}/summary.json")


@pytest.mark.usefixtures("pipeline")
def test_a_resubmission_is_refused_or_replaces_every_output(
    cloud: Cloud, aws_prefix: str, tmp_path: Path
) -> None:
    small = ["--algorithm", "noop", "--tiling", "none", "--windows", "32,16", "--overlap", "16,8"]
    first_folder = write_frames(tmp_path / "first", "p", "q")
    submitted = cli(aws_prefix, "submit", str(first_folder), "--run", "g", *small)
    assert submitted.returncode == 0, submitted.stderr
    first = summary_of(cloud, "g")
    assert first["status"] == "done" and first["pairs_total"] == 2
    old_text = cloud.get("g/p/exp1_001.txt")
    merged = cli(aws_prefix, "results", "g", "--out", str(tmp_path / "merged"), "--merged")
    assert merged.returncode == 0, merged.stderr
    assert sorted(p.name for p in (tmp_path / "merged").iterdir()) == ["run.nc", "summary.json"]
    with xr.open_dataset(tmp_path / "merged" / "run.nc") as dataset:
        assert list(dataset.pair.values) == ["p/exp1_001", "q/exp1_001"]
        assert dataset.attrs["generation"] == first["generation"]
    # A collector that died assembling run.nc: `--merged` assembles it from the pairs' files.
    cloud.s3.delete_object(Bucket=cloud.output, Key="g/run.nc")
    again = cli(aws_prefix, "results", "g", "--out", str(tmp_path / "rebuilt"), "--merged")
    assert again.returncode == 0, again.stderr
    with xr.open_dataset(tmp_path / "rebuilt" / "run.nc") as dataset:
        assert list(dataset.pair.values) == ["p/exp1_001", "q/exp1_001"]
        assert dataset.attrs["generation"] == first["generation"]

    again = cli(aws_prefix, "submit", str(first_folder), "--run", "g", *small)
    assert again.returncode == 2 and "--replace" in again.stderr, again.stderr
    assert cloud.summary("g") == first

    second_folder = write_frames(tmp_path / "second", "p")
    coarse = [*small[:4], "--windows", "64,32", "--overlap", "32,16", "--replace"]
    replaced = cli(aws_prefix, "submit", str(second_folder), "--run", "g", *coarse)
    assert replaced.returncode == 0, replaced.stderr
    second = summary_of(cloud, "g", not_generation=str(first["generation"]))
    assert second["status"] == "done" and second["pairs_total"] == 1, second
    assert second["spec"]["piv"]["windows"] == [64, 32]  # type: ignore[index]
    # run.nc follows the summary: a dataset never holds the run back.
    wait_for(lambda: "g/run.nc" in cloud.output_keys("g/"), RUN_TIMEOUT, "g/run.nc")
    assert cloud.output_keys("g/") == [
        "g/p/exp1_001.nc", "g/p/exp1_001.txt", "g/run.nc", "g/summary.json"
    ]  # fmt: skip
    assert cloud.get("g/p/exp1_001.txt") != old_text


@pytest.mark.usefixtures("pipeline")
def test_run_json_before_its_frames_then_uploaded_again_is_processed(cloud: Cloud) -> None:
    """`aws s3 sync` may upload run.json first: that upload is rejected for want of frames,
    and uploading run.json again re-plans the run as a new generation."""
    spec = noop_spec("sync", tiling="none").model_dump_json().encode()
    cloud.put("sync/run.json", spec)
    rejected = summary_of(cloud, "sync")
    assert rejected["status"] == "rejected", rejected
    for name, data in pair_frames("p").items():
        cloud.put(f"sync/{name}", data)
    cloud.put("sync/run.json", spec)
    done = summary_of(cloud, "sync", not_generation=str(rejected["generation"]))
    assert done["status"] == "done" and done["pairs_total"] == 1, done


@pytest.mark.parametrize("declared", [False, True], ids=["quiet-folder", "declared-count"])
def test_run_json_uploaded_before_its_frames_waits_for_them(
    cloud: Cloud, pipeline: Roles, declared: bool
) -> None:
    """`aws s3 sync` uploads in any order: the dispatcher plans once the folder is quiet, or
    once every frame run.json declares is there, without a second upload of run.json."""
    run = f"order-{declared}".lower()
    frames = pair_frames("p", "q")
    spec = noop_spec(run, tiling="none").model_copy(
        update={"frames": len(frames) if declared else None}
    )
    cloud.put(f"{run}/run.json", spec.model_dump_json().encode())
    time.sleep(SETTLE_SECONDS + 2 if declared else 2)
    for name, data in frames.items():
        cloud.put(f"{run}/{name}", data)
    summary = summary_of(cloud, run)
    assert summary["status"] == "done" and summary["pairs_total"] == 2, summary
    [dispatcher] = [r for r in pipeline.started if r.module == "dispatcher"]
    assert dispatcher.messages("frames still arriving")
