"""Process start and imports of a fast-engine run (issue #12): this checkout against a git ref
(default main, `git archive`d into a scratch folder), alternated, each measurement a fresh
process with its PYTHONPATH on the tree measured.

- **imports**: `python -c "import pivfleet.cli.main, pivfleet.engine.reference,
  pivfleet.engine.fast_backend"` (the CLI's imports and what its forked worker adds for the
  fast engine), wall seconds from start to exit; and whether scipy.interpolate was imported.
- **run**: `python -m pivfleet.cli run FOLDER --engine fast --workers 1 --tiling none` on
  OpenPIV's test4 pair (2304×1720), wall seconds from start to exit, and the one job's seconds
  from the run's summary (`tile_seconds`: reading, the three passes, the vectors).

Each tree runs the pair once first (numba compiles its cache for that tree; not recorded).
Writes bench/results/startup.json.

Run: .venv/bin/python bench/startup.py [--ref main] [--repeats 7]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results" / "startup.json"
IMPORTS = (
    "import sys, pivfleet.cli.main, pivfleet.engine.reference, pivfleet.engine.fast_backend;"
    "print('scipy.interpolate' in sys.modules)"
)


def in_tree(tree: Path, argv: list[str]) -> tuple[float, str]:
    """`argv` with `tree`'s pivfleet: wall seconds, and its stdout."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=tree, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:5])} … failed: {done.stderr[-2000:]}")
    return seconds, done.stdout


def measure_imports(tree: Path) -> dict[str, object]:
    seconds, out = in_tree(tree, [sys.executable, "-c", IMPORTS])
    return {"seconds": round(seconds, 3), "scipy_interpolate": out.strip() == "True"}


def measure_run(tree: Path, pair: Path, out: Path) -> dict[str, object]:
    shutil.rmtree(out, ignore_errors=True)
    argv = [sys.executable, "-m", "pivfleet.cli", "run", str(pair), "--out", str(out)]
    argv += ["--engine", "fast", "--workers", "1", "--tiling", "none"]
    seconds, _ = in_tree(tree, argv)
    summary = json.loads((out / "summary.json").read_text())
    return {"seconds": round(seconds, 3), "job_seconds": summary["tile_seconds"]}


def prepare(scratch: Path, ref: str) -> tuple[Path, Path]:
    """The ref's tree and a folder with OpenPIV's test4 pair."""
    before = scratch / "before"
    before.mkdir()
    archive = subprocess.run(["git", "archive", ref], cwd=ROOT, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(before)], input=archive.stdout, check=True)
    pair = scratch / "pair"
    in_tree(ROOT, [sys.executable, "-m", "pivfleet.cli", "samples", str(pair)])
    for frame in pair.iterdir():
        if not frame.name.startswith("test4_"):
            frame.unlink()
    return before, pair


def median(runs: list[dict[str, object]], key: str) -> float:
    return round(statistics.median(float(r[key]) for r in runs), 3)  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ref", default="main")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    results: dict[str, dict[str, list[dict[str, object]]]] = {}
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        before, pair = prepare(scratch, args.ref)
        trees = {args.ref: before, "checkout": ROOT}
        for name, tree in trees.items():
            measure_run(tree, pair, scratch / "warm-up")
            results[name] = {"imports": [], "run": []}
        for repeat in range(args.repeats):
            order = list(trees.items()) if repeat % 2 == 0 else list(trees.items())[::-1]
            for name, tree in order:
                results[name]["imports"].append(measure_imports(tree))
                results[name]["run"].append(measure_run(tree, pair, scratch / "out"))
                print(name, results[name]["imports"][-1], results[name]["run"][-1], flush=True)
    write_report(args, results)


def write_report(args: argparse.Namespace, results: dict[str, dict[str, list]]) -> None:  # type: ignore[type-arg]
    summary = {
        name: {
            "imports_median_seconds": median(runs["imports"], "seconds"),
            "imports_scipy_interpolate": runs["imports"][0]["scipy_interpolate"],
            "run_median_seconds": median(runs["run"], "seconds"),
            "job_median_seconds": median(runs["run"], "job_seconds"),
        }
        for name, runs in results.items()
    }
    report = {
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.python_version()}",
        "command": f".venv/bin/python bench/startup.py --ref {args.ref} --repeats {args.repeats}",
        "pair": "OpenPIV's test4 (2304x1720 8-bit), --workers 1 --tiling none --engine fast",
        "medians": summary,
        "runs": results,
    }
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
