"""The queue pipeline on LocalStack with real processes: dispatcher poller, workers, collector.

Each test has its own name prefix (buckets `<prefix>-input/-output`, queues `<prefix>-*`), polls
with deadlines, and kills every process it started. Fault tests use the `noop` algorithm with its
`sleep_seconds` parameter as a slow tile.
"""

from __future__ import annotations

import io
import json
import signal
import time
from collections import Counter
from pathlib import Path

import numpy as np
import openpiv
import pytest
import xarray as xr

from pivfleet.cli.embedded import EmbeddedRun
from pivfleet.cloud.bootstrap import bootstrap
from pivfleet.cloud.config import CloudConfig
from pivfleet.core.spec import PivSettings, RunSpec
from tests.integration.helpers import Cloud, Role, Roles, cli, wait_for

SAMPLE = Path(openpiv.__file__).parent / "data" / "test1"
FRAME_A, FRAME_B = ((SAMPLE / f"exp1_001_{x}.bmp").read_bytes() for x in "ab")
SMALL_PIV = PivSettings(windows=(32, 16), overlaps=(16, 8))
RUN_TIMEOUT = 60.0
pytestmark = pytest.mark.usefixtures("localstack_endpoint")


@pytest.fixture
def cloud(aws_prefix: str) -> Cloud:
    bootstrap(CloudConfig.from_env({"PIVFLEET_NAME_PREFIX": aws_prefix}), ["windef", "noop"])
    return Cloud(aws_prefix)


def pair_frames(*folders: str) -> dict[str, bytes]:
    frames = {}
    for folder in folders:
        frames[f"{folder}/exp1_001_a.bmp"] = FRAME_A
        frames[f"{folder}/exp1_001_b.bmp"] = FRAME_B
    return frames


def noop_spec(run: str, sleep: float = 0.0, tiling: int | str = 256) -> RunSpec:
    return RunSpec.model_validate(
        {
            "run": run, "algorithm": "noop", "piv": SMALL_PIV.model_dump(), "tiling": tiling,
            "algorithm_parameters": {"sleep_seconds": sleep},
        }
    )  # fmt: skip


def wait_summary(cloud: Cloud, run: str, timeout: float = RUN_TIMEOUT) -> dict[str, object]:
    return wait_for(lambda: cloud.summary(run), timeout, f"{run}/summary.json")


def processed(*workers: Role) -> Counter[tuple[str, int]]:
    lines = [r for w in workers for r in w.messages("tile processed")]
    return Counter((r["pair"], r["tile"]) for r in lines)


def in_hand(cloud: Cloud, queue: str) -> bool:
    return cloud.counts(queue)[1] >= 1


def test_end_to_end_equals_embedded_run(cloud: Cloud, roles: Roles, tmp_path: Path) -> None:
    spec = RunSpec(run="e2e", piv=SMALL_PIV, tiling=128)
    frames = pair_frames("cam 1+ü", "plain")
    local_in = tmp_path / "in"
    for name, data in frames.items():
        (local_in / name).parent.mkdir(parents=True, exist_ok=True)
        (local_in / name).write_bytes(data)
    for role in ("dispatcher", "worker", "collector"):
        roles.start(role, worker_processes="1")
    cloud.submit(spec, frames)
    summary = wait_summary(cloud, "e2e", 120)
    assert summary["status"] == "done", summary
    EmbeddedRun(spec, local_in, tmp_path / "local", workers=2).execute()
    for pair in ("cam 1+ü/exp1_001", "plain/exp1_001"):
        local_text = (tmp_path / "local" / f"{pair}.txt").read_bytes()
        assert cloud.get(f"e2e/{pair}.txt") == local_text
        remote = xr.open_dataset(io.BytesIO(cloud.get(f"e2e/{pair}.nc")))
        local = xr.open_dataset(tmp_path / "local" / f"{pair}.nc")
        assert set(remote.data_vars) == set(local.data_vars)
        for name in map(str, local.data_vars):
            np.testing.assert_allclose(remote[name].values, local[name].values, atol=1e-6)


def test_kill_9_mid_tile_redelivers(cloud: Cloud, roles: Roles) -> None:
    cloud.set_visibility("jobs-noop", 3)
    settings = {"algorithm": "noop", "visibility_seconds": "3", "heartbeat_seconds": "1"}
    roles.start("dispatcher")
    roles.start("collector")
    cloud.submit(noop_spec("kill", sleep=1.5), pair_frames("p"))
    worker_a = roles.start("worker", worker_processes="1", **settings)
    wait_for(lambda: in_hand(cloud, "jobs-noop"), 30, "worker A to hold a tile", every=0.05)
    worker_a.signal(signal.SIGKILL)
    worker_a.process.wait(10)
    worker_b = roles.start("worker", worker_processes="1", **settings)
    summary = wait_summary(cloud, "kill")
    assert summary["status"] == "done" and summary["tiles"] == 4, summary
    tiles = processed(worker_a, worker_b)
    assert sorted(tiles) == [("p/exp1_001", i) for i in range(4)]
    records = cloud.work_keys("kill", "results/")
    assert len(records) == 4
    redelivered = [r for r in worker_b.messages("tile processed") if r["receive_count"] >= 2]
    assert redelivered, "the killed tile was not processed again"


def test_heartbeat_keeps_a_long_tile_single(cloud: Cloud, roles: Roles) -> None:
    cloud.set_visibility("jobs-noop", 2)
    settings = {"algorithm": "noop", "visibility_seconds": "2", "heartbeat_seconds": "0.5"}
    roles.start("dispatcher")
    roles.start("collector")
    workers = [roles.start("worker", worker_processes="1", **settings) for _ in range(2)]
    cloud.submit(noop_spec("beat", sleep=5, tiling="none"), pair_frames("p"))
    summary = wait_summary(cloud, "beat")
    assert summary["status"] == "done", summary
    assert processed(*workers) == Counter({("p/exp1_001", 0): 1})


def test_duplicates_change_nothing(cloud: Cloud, roles: Roles) -> None:
    """Every message twice: the run.json notification, then results after the run ended."""
    cloud.submit(noop_spec("dup"), pair_frames("p"))
    [notification] = wait_for(
        lambda: [m["Body"] for m in cloud.drain("uploads") if "dup/run.json" in m["Body"]],
        30,
        "the run.json notification",
    )
    cloud.sqs.send_message(QueueUrl=cloud.url("uploads"), MessageBody=notification)
    roles.start("dispatcher")
    wait_for(lambda: cloud.idle("uploads"), 30, "both notifications handled")
    assert cloud.counts("jobs-noop") == (4, 0)
    roles.start("worker", algorithm="noop", worker_processes="1")
    collector = roles.start("collector")
    summary_before = json.dumps(wait_summary(cloud, "dup"))
    outputs = {k: cloud.s3.head_object(Bucket=cloud.output, Key=k)["ETag"] for k in (
        "dup/p/exp1_001.nc", "dup/p/exp1_001.txt", "dup/summary.json")}  # fmt: skip
    record = cloud.get(cloud.work_keys("dup", "results/")[0]).decode()
    url = cloud.url("results")
    for _ in range(2):
        cloud.sqs.send_message(QueueUrl=url, MessageBody=record)
    wait_for(lambda: cloud.idle("results"), 30, "duplicate results consumed")
    assert json.dumps(cloud.summary("dup")) == summary_before
    for key, etag in outputs.items():
        assert cloud.s3.head_object(Bucket=cloud.output, Key=key)["ETag"] == etag
    assert not collector.messages("collect failed")
    assert len(cloud.work_keys("dup", "plan.json")) == 1


def test_corrupt_images_fail_their_pair_and_dead_letter(
    cloud: Cloud, roles: Roles, aws_prefix: str
) -> None:
    frames = pair_frames("good", "bad", "late")
    frames["bad/exp1_001_b.bmp"] = b"not a bitmap at all"
    roles.start("dispatcher")
    cloud.submit(noop_spec("bad"), frames)
    wait_for(lambda: cloud.work_keys("bad", "plan.json"), 30, "the plan")
    wait_for(lambda: cloud.idle("uploads"), 30, "the dispatch to finish")
    cloud.put("bad/late/exp1_001_a.bmp", b"overwritten with garbage")
    cloud.sqs.send_message(QueueUrl=cloud.url("jobs-noop"), MessageBody='{"kind":"tile_job"}')
    worker = roles.start("worker", algorithm="noop", worker_processes="1")
    roles.start("collector")
    summary = wait_summary(cloud, "bad")
    pairs = {p["pair"]: p for p in summary["pairs"]}  # type: ignore[attr-defined]
    assert summary["status"] == "partial"
    assert pairs["good/exp1_001"]["status"] == "done"
    assert pairs["bad/exp1_001"]["status"] == "failed"
    assert "bad/exp1_001_b.bmp" in pairs["bad/exp1_001"]["errors"][0]
    assert pairs["late/exp1_001"]["status"] == "failed"
    assert "late/exp1_001_a.bmp" in pairs["late/exp1_001"]["errors"][0]
    poisoned = worker.messages("dead-lettering a message that can never be processed")
    assert poisoned and "invalid message" in poisoned[0]["reason"], poisoned
    letters = cloud.drain("jobs-noop-dlq")
    bodies = [m["Body"] for m in letters]
    assert '{"kind":"tile_job"}' in bodies
    assert sum('"late/exp1_001"' in b for b in bodies) == 4
    result = cli(aws_prefix, "dlq", "bad")
    listed = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.returncode == 1, result.stderr
    assert {(e.get("pair"), e.get("tile")) for e in listed if e["run"] == "bad"} == {
        ("late/exp1_001", i) for i in range(4)
    }
    assert any("late/exp1_001_a.bmp" in e["reason"] for e in listed)
    assert any(e["run"] is None for e in listed)
    status = cli(aws_prefix, "status", "bad")
    assert status.returncode == 1, status
    assert "  bad/exp1_001: failed:" in status.stdout and "bad/exp1_001_b.bmp" in status.stdout
    assert "  late/exp1_001: failed:" in status.stdout and "good/" not in status.stdout


def test_sigterm_releases_the_tile(cloud: Cloud, roles: Roles) -> None:
    settings = {"algorithm": "noop", "worker_processes": "1", "drain_seconds": "1"}
    roles.start("dispatcher")
    roles.start("collector")
    cloud.submit(noop_spec("term", sleep=6, tiling="none"), pair_frames("p"))
    worker_a = roles.start("worker", **settings)
    wait_for(lambda: in_hand(cloud, "jobs-noop"), 30, "worker A to hold the tile", every=0.05)
    time.sleep(0.3)  # let it enter the tile; correctness does not depend on this
    worker_a.signal(signal.SIGTERM)
    started = time.monotonic()
    assert worker_a.process.wait(10) == 0
    assert time.monotonic() - started < 1 + 2
    assert worker_a.messages("released a message in hand at shutdown")
    worker_b = roles.start("worker", **settings)
    summary = wait_summary(cloud, "term")
    assert summary["status"] == "done"
    assert processed(worker_b) == Counter({("p/exp1_001", 0): 1})
    assert not processed(worker_a)


def test_bad_input_is_rejected(cloud: Cloud, roles: Roles, aws_prefix: str) -> None:
    roles.start("dispatcher")
    cloud.put("invalid/p/exp1_001_a.bmp", FRAME_A)
    cloud.put("invalid/run.json", b'{"run": "invalid", "piv": {"windows": [16, 32]}}')
    cloud.put("unknown/run.json", b'{"run": "unknown", "algorithm": "nosuch"}')
    invalid = wait_summary(cloud, "invalid", 30)
    unknown = wait_summary(cloud, "unknown", 30)
    assert invalid["status"] == "rejected" and "windows" in str(invalid["message"])
    assert unknown["status"] == "rejected" and "nosuch" in str(unknown["message"])
    for queue in ("jobs-noop", "jobs-windef"):
        assert cloud.idle(queue)
    status = cli(aws_prefix, "status", "invalid")
    assert "rejected" in status.stdout and "windows" in status.stdout, status
