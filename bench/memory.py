"""Peak memory of `pivfleet run` against frame size: one synthetic pair per size, processed as
one whole-frame tile (`--tiling none`) and in tiles, one worker. Memory is the process tree's
summed proportional set size (PSS: pages a forked worker shares with its parent count once),
sampled every 20 ms. The slope between sizes is what a worker needs per frame pixel; the
intercept is the interpreter and its libraries.

Run: .venv/bin/python bench/memory.py [--sides 1024,2048,3072] [--tile 512]
Writes bench/results/memory.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil
import tifffile

RESULTS = Path(__file__).parent / "results" / "memory.json"
SAMPLE_SECONDS = 0.02


def run_measured(argv: list[str]) -> tuple[subprocess.CompletedProcess[str], int]:
    """Run `argv` to its end: its result, and the highest summed PSS of its process tree."""
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        root, peak = psutil.Process(proc.pid), 0
        while proc.poll() is None:
            peak = max(peak, tree_pss_bytes(root))
            time.sleep(SAMPLE_SECONDS)
        out, err = proc.communicate()
    return subprocess.CompletedProcess(argv, proc.returncode, out, err), peak


SINGLE_THREAD = {
    name: "1"
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                 "RAYON_NUM_THREADS", "NUMBA_NUM_THREADS")
}  # fmt: skip
"""Every library's threads at one: the benches compare engines per core."""


def timed_run(argv: list[str]) -> dict[str, float]:
    """`argv` on one thread per library, to its end: wall seconds and peak PSS (MiB) of its
    process tree; raises with its stderr when it fails."""
    os.environ.update(SINGLE_THREAD)
    started = time.perf_counter()
    done, peak = run_measured(argv)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:4])} … failed: {done.stderr[-2000:]}")
    return {"seconds": round(seconds, 3), "peak_mib": round(peak / 2**20)}


def tree_pss_bytes(root: psutil.Process) -> int:
    total = 0
    for member in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):  # it ended between listing and reading
            total += member.memory_full_info().pss
    return total


def write_pair(folder: Path, side: int) -> None:
    folder.mkdir(parents=True)
    frame = (np.random.default_rng(side).random((side, side)) ** 4 * 255).astype(np.uint8)
    tifffile.imwrite(folder / "p_a.tif", frame)
    tifffile.imwrite(folder / "p_b.tif", np.roll(frame, 3, axis=1))


def measure(side: int, tiling: str, scratch: Path) -> dict[str, float]:
    folder = scratch / f"in-{side}"
    if not folder.exists():
        write_pair(folder, side)
    argv = [sys.executable, "-m", "pivfleet.cli.main", "run", str(folder), "--replace"]
    argv += ["--out", str(scratch / f"out-{side}"), "--workers", "1", "--tiling", tiling]
    done, peak = run_measured(argv)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {done.stderr[-2000:]}")
    return {"side_px": side, "megapixels": side * side / 1e6, "tiling": tiling,
            "peak_pss_mib": round(peak / 2**20, 1)}  # fmt: skip


def slope_bytes_per_pixel(rows: list[dict[str, float]]) -> float:
    pixels = [r["megapixels"] * 1e6 for r in rows]
    peaks = [r["peak_pss_mib"] * 2**20 for r in rows]
    return float(np.polyfit(pixels, peaks, 1)[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sides", default="1024,2048,3072")
    parser.add_argument("--tile", default="512")
    args = parser.parse_args()
    sides = [int(s) for s in args.sides.split(",")]
    rows: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as scratch:
        for side in sides:
            for tiling in ("none", args.tile):  # alternated per size, on the same frames
                rows.append(measure(side, tiling, Path(scratch)))
                print(rows[-1], flush=True)
    report = {
        "machine": f"{platform.node()} {platform.machine()}, {psutil.cpu_count()} cores",
        "command": " ".join(sys.argv),
        "rows": rows,
        "bytes_per_pixel": {
            tiling: round(slope_bytes_per_pixel([r for r in rows if r["tiling"] == tiling]))
            for tiling in ("none", args.tile)
        },
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["bytes_per_pixel"]))


if __name__ == "__main__":
    main()
