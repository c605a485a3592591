"""A run of many pairs on two processes: `pivfleet run --workers 2` (fast engine; with
`--reference` also the reference engine) against OpenPIV's own many-pair driver,
`tools.Multiprocesser(...).run(func, n_cpus=2)` with a `func` that reads a pair, runs
`windef.simple_multipass` on float32 frames and writes `tools.save`'s text file, as OpenPIV's
tutorials do. Each run is one whole process tree,
alternated; wall seconds from start to exit and peak PSS of the tree.

Pairs: `--pairs` (default 100) seeded synthetic 1000 × 1000 8-bit pairs (uniform, shear,
vortex and sinusoidal flows in turn). Writes bench/results/many_pairs.json.

Run: .venv/bin/python bench/many_pairs.py [--pairs 100] [--repeats 1]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from memory import timed_run

from tests.synthetic import make_pair, shear, sinusoidal, uniform, vortex, write_pair

RESULTS = Path(__file__).parent / "results" / "many_pairs.json"
SIDE_PX = 1000
PROCESSES = 2
OPENPIV_DRIVER = """
import contextlib, io, sys
from pathlib import Path
import numpy as np
from openpiv import tools, windef

def one_pair(args):
    file_a, file_b, counter = args
    a, b = (tools.imread(f).astype(np.float32) for f in (file_a, file_b))
    s = windef.PIVSettings()
    s.windowsizes, s.overlap, s.num_iterations = (64, 32, 16), (32, 16, 8), 3
    with contextlib.redirect_stdout(io.StringIO()):
        x, y, u, v, flags = windef.simple_multipass(a, b, s)
    tools.save(str(Path(sys.argv[2]) / f"{Path(file_a).stem[:-2]}.txt"), x, y, u, v, flags)

if __name__ == "__main__":
    tools.Multiprocesser(data_dir=Path(sys.argv[1]), pattern_a="*_a.tif",
                         pattern_b="*_b.tif").run(func=one_pair, n_cpus=int(sys.argv[3]))
"""


def flows() -> list:  # type: ignore[type-arg]
    half = SIDE_PX / 2
    return [uniform(), shear(), vortex((half, half), core_px=150), sinusoidal()]


def prepare(folder: Path, count: int) -> None:
    for index in range(count):
        flow = flows()[index % 4]
        write_pair(folder, f"p{index:03d}", make_pair((SIDE_PX, SIDE_PX), flow, seed=index))


def run(runner: str, images: Path, out: Path) -> dict[str, float]:
    out.mkdir(parents=True, exist_ok=True)
    if runner == "openpiv_multiprocesser":
        argv = [sys.executable, "-c", OPENPIV_DRIVER, str(images), str(out), str(PROCESSES)]
    else:
        engine = runner.removeprefix("pivfleet_run_")
        argv = [sys.executable, "-m", "pivfleet.cli.main", "run", str(images), "--out", str(out)]
        argv += ["--replace", "--workers", str(PROCESSES), "--engine", engine]
    report = timed_run(argv)
    return {"seconds": report["seconds"], "peak_pss_mib": report["peak_mib"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--reference", action="store_true", help="also pivfleet's openpiv engine")
    args = parser.parse_args()
    runners = ["pivfleet_run_fast", "openpiv_multiprocesser"]
    runners += ["pivfleet_run_openpiv"] if args.reference else []
    results: dict[str, list[dict[str, float]]] = {r: [] for r in runners}
    with tempfile.TemporaryDirectory() as scratch:
        images = Path(scratch) / "pairs"
        prepare(images, args.pairs)
        for _ in range(args.repeats):
            for runner in runners:
                results[runner].append(run(runner, images, Path(scratch) / runner))
                print(runner, results[runner][-1], flush=True)
    medians = {r: statistics.median(m["seconds"] for m in runs) for r, runs in results.items()}
    reference = medians["openpiv_multiprocesser"]
    report = {
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.python_version()}",
        "command": f".venv/bin/python bench/many_pairs.py --pairs {args.pairs} "
        f"--repeats {args.repeats}",
        "pairs": f"{args.pairs} synthetic {SIDE_PX}x{SIDE_PX} 8-bit, {PROCESSES} processes",
        "runs": {
            r: {
                "median_seconds": medians[r],
                "speed_vs_openpiv_multiprocesser": round(reference / medians[r], 2),
                "seconds_per_pair": round(medians[r] / args.pairs, 3),
                "peak_pss_mib": max(m["peak_pss_mib"] for m in runs),
            }
            for r, runs in results.items()
        },
    }
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
