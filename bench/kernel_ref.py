"""The fast engine's kernel, this checkout against a git ref (default main, `git archive`d into
a scratch folder), with OpenPIV's `simple_multipass` on float32 frames in the same rounds:
each measurement a fresh process (`bench/engine.py --one`: warm-up on a 256-px crop, then the
pair's seconds in the PIV call and the process's peak RSS), every thread count at 1, the three
alternated in each round. Pairs: OpenPIV's test4 and the 4400×6600 16-bit synthetic vortex of
`bench/engine.py`. Writes bench/results/kernel_ref.json.

Run: .venv/bin/python bench/kernel_ref.py [--ref main] [--repeats 5] [--big-repeats 3]
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from memory import SINGLE_THREAD

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results" / "kernel_ref.json"
BIG = "vortex29mp"
OPENPIV = "openpiv_float32"


def measure(tree: Path, engine: str, folder: Path, pair: str) -> dict[str, float]:
    """One kernel call in a fresh process of `tree`'s pivfleet: seconds and peak RSS (MiB)."""
    command = [sys.executable, str(tree / "bench" / "engine.py"), "--one", engine, str(folder)]
    env = {**os.environ, **SINGLE_THREAD, "PYTHONPATH": str(tree)}
    done = subprocess.run(
        [*command, pair], cwd=tree, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{engine} in {tree} failed: {done.stderr[-2000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return {"seconds": report["seconds"], "peak_rss_mib": report["peak_rss_mib"]}


def summarise(runs: dict[str, list[dict[str, float]]], ref: str) -> dict[str, object]:
    medians = {name: statistics.median(r["seconds"] for r in rs) for name, rs in runs.items()}
    per_round = [
        a["seconds"] / b["seconds"] for a, b in zip(runs[ref], runs["checkout"], strict=True)
    ]
    return {
        "median_seconds": medians,
        "speed_vs_openpiv": {n: round(medians[OPENPIV] / m, 2) for n, m in medians.items()},
        "checkout_speed_vs_ref": round(medians[ref] / medians["checkout"], 2),
        "checkout_speed_vs_ref_per_round": [round(ratio, 2) for ratio in per_round],
        "peak_mib": {name: max(r["peak_rss_mib"] for r in rs) for name, rs in runs.items()},
        "runs": runs,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ref", default="main")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--big-repeats", type=int, default=3, help="for the 29 MP pair")
    args = parser.parse_args()
    report: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as scratch:
        folder, before = Path(scratch) / "pairs", Path(scratch) / "before"
        prepare = [sys.executable, str(ROOT / "bench" / "engine.py"), "--prepare", str(folder)]
        subprocess.run(prepare, check=True)
        before.mkdir()
        archive = subprocess.run(
            ["git", "archive", args.ref], cwd=ROOT, capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", str(before)], input=archive.stdout, check=True)
        trees = {args.ref: (before, "pivfleet_fast"), "checkout": (ROOT, "pivfleet_fast")}
        trees[OPENPIV] = (ROOT, OPENPIV)
        for pair, repeats in (("test4", args.repeats), (BIG, args.big_repeats)):
            runs: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
            for _ in range(repeats):
                for name, (tree, engine) in trees.items():
                    runs[name].append(measure(tree, engine, folder, pair))
                print(pair, {name: rs[-1]["seconds"] for name, rs in runs.items()}, flush=True)
            report[pair] = summarise(runs, args.ref)
    RESULTS.write_text(
        json.dumps(
            {
                "machine": f"{platform.machine()} {os.cpu_count()} cores, "
                f"{platform.python_version()}",
                "command": f".venv/bin/python bench/kernel_ref.py --ref {args.ref} "
                f"--repeats {args.repeats} --big-repeats {args.big_repeats}",
                "threads": SINGLE_THREAD,
                **report,
            },
            indent=2,
        )
        + "\n"
    )
    print(json.dumps({p: {k: v for k, v in r.items() if k != "runs"} for p, r in report.items()}))  # type: ignore[union-attr]


if __name__ == "__main__":
    main()
