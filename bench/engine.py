"""The engines side by side, one process and one thread each, alternating: OpenPIV's
`windef.simple_multipass` on float32 frames (what its users run), pivfleet's whole-pair engine
with `engine: openpiv` (OpenPIV's functions, float64 frames) and with `engine: fast`.

Each measurement is a fresh process (`--one ENGINE PAIR`) that reads the pair, runs the
engine once to warm up (numba's compiled code comes from its cache after the first run), then
times one call and reports its seconds and the process's peak RSS. Pairs: OpenPIV's test4
(2304 × 1720) and a 1337 × 1000 16-bit synthetic vortex. Writes bench/results/engine.json.

Run: .venv/bin/python bench/engine.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.synthetic import make_pair, vortex, write_pair

RESULTS = Path(__file__).parent / "results" / "engine.json"
ENGINES = ("openpiv_simple_multipass_float32", "pivfleet_openpiv", "pivfleet_fast")
SINGLE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}


def frames(pair: str, folder: Path) -> tuple[np.ndarray, np.ndarray]:
    from pivfleet.core.imaging import read_frame

    paths = sorted(folder.glob(f"{pair}_?.*"))
    return read_frame(str(paths[0])), read_frame(str(paths[1]))


def run_engine(engine: str, a: np.ndarray, b: np.ndarray) -> None:
    if engine == "openpiv_simple_multipass_float32":
        from openpiv import windef

        with contextlib.redirect_stdout(io.StringIO()):
            windef.simple_multipass(
                a.astype(np.float32), b.astype(np.float32), windef.PIVSettings()
            )
        return
    from pivfleet.core.spec import PivSettings
    from pivfleet.engine.reference import run_passes

    run_passes(a, b, PivSettings(engine="fast" if engine == "pivfleet_fast" else "openpiv"))


def one(engine: str, pair: str, folder: Path) -> None:
    """Child process: warm up, time one run, print seconds and peak RSS (MiB)."""
    a, b = frames(pair, folder)
    run_engine(engine, a, b)
    started = time.perf_counter()
    run_engine(engine, a, b)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": round(seconds, 3), "peak_rss_mib": round(peak)}))


def measure(engine: str, pair: str, folder: Path) -> dict[str, float]:
    command = [sys.executable, __file__, "--one", engine, pair, str(folder)]
    env = {**os.environ, **SINGLE_THREAD}
    done = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def prepare_pairs(folder: Path) -> list[str]:
    from pivfleet.cli.samples import copy_samples

    copy_samples(folder)
    write_pair(folder, "vortex1000", make_pair((1000, 1337), vortex((500, 668)), bits=16, seed=4))
    return ["test4", "vortex1000"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--one", nargs=3, metavar=("ENGINE", "PAIR", "FOLDER"))
    args = parser.parse_args()
    if args.one:
        one(args.one[0], args.one[1], Path(args.one[2]))
        return
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        pairs = prepare_pairs(folder)
        runs: dict[str, dict[str, list[dict[str, float]]]] = {
            p: {e: [] for e in ENGINES} for p in pairs
        }
        for _ in range(args.repeats):
            for pair in pairs:
                for engine in ENGINES:
                    runs[pair][engine].append(measure(engine, pair, folder))
    report = {
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.python_version()}",
        "command": f".venv/bin/python bench/engine.py --repeats {args.repeats}",
        "threads": SINGLE_THREAD,
        "pairs": {pair: summarise(results) for pair, results in runs.items()},
    }
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


def summarise(results: dict[str, list[dict[str, float]]]) -> dict[str, object]:
    medians = {e: statistics.median(r["seconds"] for r in runs) for e, runs in results.items()}
    reference = medians["openpiv_simple_multipass_float32"]
    return {
        engine: {
            "median_seconds": medians[engine],
            "speed_vs_openpiv_float32": round(reference / medians[engine], 2),
            "peak_rss_mib": max(r["peak_rss_mib"] for r in runs),
            "seconds": [r["seconds"] for r in runs],
        }
        for engine, runs in results.items()
    }


if __name__ == "__main__":
    main()
