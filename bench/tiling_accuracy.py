"""Time `pivfleet run` on OpenPIV's sample pairs, untiled and tiled, and measure how far tiled
vectors are from untiled ones. Writes bench/results/tiling_accuracy.json.

Run: .venv/bin/python bench/tiling_accuracy.py [--tile 256] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import xarray as xr

from pivfleet.cli.embedded import EmbeddedRun
from pivfleet.cli.samples import SAMPLE_PAIRS, copy_samples
from pivfleet.core.spec import RunSpec

RESULTS = Path(__file__).parent / "results" / "tiling_accuracy.json"


def timed_run(input_dir: Path, out_dir: Path, tiling: str | int, workers: int) -> float:
    started = time.perf_counter()
    EmbeddedRun(
        RunSpec(run="bench", tiling=tiling, workers=workers), input_dir, out_dir, workers
    ).execute()
    return round(time.perf_counter() - started, 2)


def agreement(whole: Path, tiled: Path, pair: str) -> dict[str, float]:
    with xr.open_dataset(whole / f"{pair}.nc") as a, xr.open_dataset(tiled / f"{pair}.nc") as b:
        error = np.hypot(a.u.values - b.u.values, a.v.values - b.v.values)
    return {
        "within_0.1px": round(float(np.mean(error <= 0.1)), 5),
        "rms_px": round(float(np.sqrt(np.mean(error**2))), 5),
        "max_px": round(float(error.max()), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tile", type=int, default=256)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        copy_samples(root / "in")
        seconds = {
            t: timed_run(root / "in", root / str(t), t, args.workers) for t in ("none", args.tile)
        }
        report = {
            "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.python_version()}",
            "command": f"bench/tiling_accuracy.py --tile {args.tile} --workers {args.workers}",
            "seconds": seconds,
            "agreement": {
                p: agreement(root / "none", root / str(args.tile), p) for p in SAMPLE_PAIRS
            },
        }
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
