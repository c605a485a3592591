"""`pivfleet run` counts what the run would cost on AWS: its summary's usage holds the requests
its folders and in-memory queues stood in for, and they agree with what the run did."""

from __future__ import annotations

from pathlib import Path

import pytest

from pivfleet.cli.main import main
from pivfleet.core.cost import Prices, estimate_cost
from pivfleet.core.summary import RunSummary
from tests.synthetic import make_pair, shear, uniform, write_pair

SHAPE = (256, 320)
SMALL = ["--windows", "32,16", "--overlap", "16,8", "--engine", "fast"]


def run(folder: Path, out: Path, *flags: str) -> tuple[RunSummary, int]:
    code = main(["run", str(folder), "--out", str(out), "--workers", "2", *SMALL, *flags])
    return RunSummary.model_validate_json((out / "summary.json").read_bytes()), code


def frames(folder: Path) -> list[Path]:
    return sorted(folder.iterdir())


def test_whole_pairs_count_their_frames_jobs_and_outputs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIVFLEET_WORKER_VCPU", "2")
    monkeypatch.setenv("PIVFLEET_WORKER_MEMORY_GB", "4")
    for index, flow in enumerate((uniform(), shear(), uniform(2.0, 1.0))):
        write_pair(tmp_path / "in", f"p{index}", make_pair(SHAPE, flow, seed=index))
    out = tmp_path / "out"
    summary, code = run(tmp_path / "in", out, "--tiling", "none")
    assert code == 0 and summary.tiles == 3
    assert summary.usage is not None and summary.cost is not None
    workers, jobs = summary.usage.workers, summary.tiles
    # Every job was received, its vectors written, its result sent; each pair read once.
    assert workers.requests.sqs_receive >= jobs and workers.requests.sqs_send >= jobs
    assert workers.requests.s3_put >= jobs and workers.requests.s3_get >= 2 * jobs
    assert workers.bytes_read >= sum(f.stat().st_size for f in frames(tmp_path / "in"))
    # Worker time at 2 vCPU and 4 GB a process (PIVFLEET_WORKER_*).
    assert workers.worker_seconds >= summary.tile_seconds > 0
    assert workers.vcpu_seconds == pytest.approx(2 * workers.worker_seconds, abs=0.01)
    assert workers.gb_seconds == pytest.approx(4 * workers.worker_seconds, abs=0.01)
    # The dispatcher listed the frames, stored the plan and sent the jobs.
    dispatcher = summary.usage.dispatcher.requests
    assert dispatcher.s3_list >= 1 and dispatcher.s3_put >= 1 and dispatcher.sqs_send >= 1
    # What the collector kept is the pairs' outputs on disk, byte for byte: the summary, and
    # the run's own files written after it (run.nc, run.png), are not in it.
    after = {"summary.json", "run.nc", "run.png"}
    written = [f for f in out.iterdir() if f.name not in after]
    assert summary.usage.collector.bytes_kept == sum(f.stat().st_size for f in written)
    assert summary.cost == estimate_cost(summary.usage.total, Prices())
    assert summary.cost.total_usd > 0
    assert "cost: " in capsys.readouterr().out


def test_a_tiled_pair_counts_the_strips_and_the_next_passes(tmp_path: Path) -> None:
    write_pair(tmp_path / "in", "big", make_pair((400, 480), shear(), seed=7))
    summary, code = run(tmp_path / "in", tmp_path / "out", "--tiling", "128")
    assert code == 0 and summary.usage is not None
    pixels = 400 * 480
    dispatcher = summary.usage.dispatcher
    # Both frames decoded through the store and copied into strips (8-bit: a byte a pixel).
    assert dispatcher.bytes_read >= sum(f.stat().st_size for f in frames(tmp_path / "in"))
    assert dispatcher.bytes_written >= 2 * pixels
    # The collector sent the second pass's jobs; the workers read crops by byte ranges.
    assert summary.usage.collector.requests.sqs_send >= 1
    workers = summary.usage.workers
    assert workers.requests.s3_get > summary.tiles and workers.bytes_read > 2 * pixels
