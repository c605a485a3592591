"""Bytes a pass job reads against the bytes of its crop, on one 16-bit 4400 × 6600 pair.

Drives the roles in one process over file stores, as the pipeline does: `dispatch_run` (plan,
both frames copied into strips, pass 0's jobs), then every job through the worker's
`process_tile` and every result through the `Collector` (which sends pass k+1's jobs), until
the pair is finished. For each job: bytes fetched (ranges of the frames' and the predictor's
strips, and their headers) over its crop's bytes (crop pixels × 2 bytes × 2 frames).
`tiling: auto` for `--expected-workers` workers. Writes bench/results/windowed_reads.json.

Run: .venv/bin/python bench/windowed_reads.py [--expected-workers 64] [--height 4400 --width 6600]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pivfleet.core.imaging import read_frame, read_header
from pivfleet.core.keys import RunKeys, new_generation
from pivfleet.core.messages import TileJob, TileResult
from pivfleet.core.plan import RunInput
from pivfleet.core.spec import RunSpec
from pivfleet.roles.collector import Collector
from pivfleet.roles.dispatcher import dispatch_run
from pivfleet.roles.storage import RunStorage
from pivfleet.roles.worker import Workspace, process_tile
from pivfleet.transports.file_store import FileBlobStore
from tests.synthetic import make_pair, shear, write_pair

RESULTS = Path(__file__).parent / "results" / "windowed_reads.json"
BYTES_PER_PIXEL = 2
TARGET_RATIO = 1.5


def run_pair(root: Path, workers: int) -> tuple[list[TileResult], float, int]:
    """Every job of the pair, as the pipeline runs them; the dispatch's seconds and the frames'
    bytes."""
    keys = RunKeys(run="windowed", generation=new_generation(), outputs_prefix="")
    storage = RunStorage(FileBlobStore(root / "work"), FileBlobStore(root / "out"), keys)
    inputs = root / "in"
    frames = RunInput(
        FileBlobStore(inputs).list(""),
        lambda name: read_header(str(inputs / name), name),
        lambda name: read_frame(str(inputs / name)),
    )
    queue: list[str] = []
    spec = RunSpec(run="windowed", workers=workers)
    started = time.perf_counter()
    plan = dispatch_run(spec, frames, storage, queue.extend)
    dispatch_seconds = time.perf_counter() - started
    assert plan is not None and plan.pairs[0].synchronous, plan
    collector, space = (
        Collector(storage, plan, queue.extend),
        Workspace(FileBlobStore(inputs), storage.work),
    )
    results: list[TileResult] = []
    while queue:
        job = TileJob.model_validate_json(queue.pop(0))
        results.append(process_tile(job, space, keys))
        collector.collect(results[-1])
    frame_bytes = sum((inputs / name).stat().st_size for name in frames.names)
    return results, dispatch_seconds, frame_bytes


def per_pass(results: list[TileResult]) -> list[dict[str, float]]:
    passes = sorted({r.pass_index for r in results if r.pass_index is not None})
    rows = []
    for index in passes:
        ratios = [
            r.bytes_read / (2 * r.pixels_read * BYTES_PER_PIXEL)
            for r in results
            if r.pass_index == index
        ]
        rows.append(
            {"pass": index + 1, "jobs": len(ratios), "max_ratio": round(max(ratios), 3),
             "median_ratio": round(statistics.median(ratios), 3)}
        )  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--expected-workers", type=int, default=64)
    parser.add_argument("--height", type=int, default=4400)
    parser.add_argument("--width", type=int, default=6600)
    args = parser.parse_args()
    shape = (args.height, args.width)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        write_pair(root / "in", "big", make_pair(shape, shear(), bits=16, seed=5))
        results, dispatch_seconds, frame_bytes = run_pair(root, args.expected_workers)
    assert all(r.status == "done" for r in results), [r.error for r in results if r.error]
    rows = per_pass(results)
    report = {
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.python_version()}",
        "command": (
            f"bench/windowed_reads.py --expected-workers {args.expected_workers} "
            f"--height {args.height} --width {args.width}"
        ),
        "pair": f"{args.width}x{args.height} px, 16-bit synthetic shear",
        "frames_bytes": frame_bytes,
        "dispatch_seconds_with_strips": round(dispatch_seconds, 2),
        "passes": rows,
        "max_ratio": max(row["max_ratio"] for row in rows),
        "target_ratio": TARGET_RATIO,
        "largest_job_bytes": max(r.bytes_read for r in results),
    }
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
