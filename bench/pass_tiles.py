"""One large pair on two workers: pass-synchronous tiles against the whole pair on one worker.

Runs `pivfleet run` (embedded: in-memory queues, a process pool) on one 4 MP synthetic pair
(2000 × 2000 px, 16-bit, a vortex of known displacement), alternating `--workers 1 --tiling
none` and `--workers 2` (`tiling: auto` cuts each pass into about two jobs per worker), and
records the wall time of each run, the ratio of the medians, the plan's work factor and how far
the tiled vectors are from the whole pair's. Writes bench/results/pass_tiles.json.

Run: .venv/bin/python bench/pass_tiles.py [--repeats 5] [--size 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import xarray as xr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.synthetic import make_pair, vortex, write_pair

RESULTS = Path(__file__).parent / "results" / "pass_tiles.json"
PIVFLEET = Path(sys.executable).parent / "pivfleet"
SETUPS = {
    "whole_1_worker": ["--workers", "1", "--tiling", "none"],
    "tiled_2_workers": ["--workers", "2"],
}


def timed_run(input_dir: Path, out_dir: Path, flags: list[str]) -> float:
    started = time.perf_counter()
    command = [str(PIVFLEET), "run", str(input_dir), "--out", str(out_dir), "--replace", *flags]
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - started


def largest_difference(whole: Path, tiled: Path) -> float:
    with xr.open_dataset(whole / "vortex.nc") as a, xr.open_dataset(tiled / "vortex.nc") as b:
        return float(max(np.abs(a.u - b.u).max(), np.abs(a.v - b.v).max()))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--size", type=int, default=2000, help="pair side, px")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root, side = Path(scratch), args.size
        flow = vortex((side / 2, side / 2), strength=8.0, core_px=side / 5)
        write_pair(root / "in", "vortex", make_pair((side, side), flow, bits=16, seed=3))
        seconds: dict[str, list[float]] = {name: [] for name in SETUPS}
        for _ in range(args.repeats):
            for name, flags in SETUPS.items():
                seconds[name].append(round(timed_run(root / "in", root / name, flags), 3))
        summary = json.loads((root / "tiled_2_workers" / "summary.json").read_text())
        medians = {name: statistics.median(times) for name, times in seconds.items()}
        report = {
            "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.python_version()}",
            "command": f"bench/pass_tiles.py --repeats {args.repeats} --size {side}",
            "pair": f"{side}x{side} px, 16-bit synthetic vortex",
            "seconds": seconds,
            "median_seconds": medians,
            "speedup_2_workers": round(medians["whole_1_worker"] / medians["tiled_2_workers"], 3),
            "jobs": summary["pairs"][0]["tiles"],
            "work_factor_per_pass": [p["work_factor"] for p in summary["pairs"][0]["passes"]],
            "max_tiled_minus_whole_px": largest_difference(
                root / "whole_1_worker", root / "tiled_2_workers"
            ),
        }
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
