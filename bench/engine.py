"""The engines side by side, one process and one thread each, alternating, on the same pairs:

- kernel: seconds in the PIV call of OpenPIV's `windef.simple_multipass` on float32 frames
  (what its users run), OpenPIV with its Rust backend, PIVTOOLs' CPU correlator (both from
  `bench/peers`, in their own venvs), and pivfleet's whole-pair engine with `engine: fast`
  (and `engine: openpiv`, the reference, on the small pairs);
- whole run: wall seconds and peak memory (PSS of the process tree) of `pivfleet run
  --workers 1 --tiling none --engine fast` on one pair, process start to exit, against a
  script that does the same with OpenPIV (import, read, `simple_multipass`, `tools.save`).

Each measurement is a fresh process. pivfleet's kernel warms up on a 256-px crop first (numba
loads its cached code); PIVTOOLs warms up on the pair (its first call compiles). Pairs:
OpenPIV's test4 (2304 × 1720, 8-bit), a 1000 × 1337 and a 4400 × 6600 16-bit synthetic
vortex. Peers missing their venv (`bash bench/peers/setup.sh`) are left out and said so.
Writes bench/results/engine.json.

Run: .venv/bin/python bench/engine.py [--repeats 3] [--big-repeats 1]
"""

from __future__ import annotations

import argparse
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
sys.path.insert(0, str(Path(__file__).resolve().parent))
from memory import SINGLE_THREAD, timed_run

from tests.synthetic import make_pair, vortex, write_pair

ROOT = Path(__file__).resolve().parents[1]

RESULTS = Path(__file__).parent / "results" / "engine.json"
REFERENCE = "openpiv_float32"
PEER_VENVS = {"openpiv_rust": ".bench-venv-rust", "pivtools": ".bench-venv-pivtools"}
BIG = "vortex29mp"
OPENPIV_SCRIPT = """
import sys, numpy as np
from openpiv import tools, windef
a, b = (tools.imread(p).astype(np.float32) for p in sys.argv[1:3])
s = windef.PIVSettings()
s.windowsizes, s.overlap, s.num_iterations = (64, 32, 16), (32, 16, 8), 3
x, y, u, v, flags = windef.simple_multipass(a, b, s)
tools.save(sys.argv[3], x, y, u, v, flags)
"""


def kernel_engines(pair: str) -> list[str]:
    engines = [REFERENCE, *[p for p, venv in PEER_VENVS.items() if (ROOT / venv).exists()]]
    engines.append("pivfleet_fast")
    return engines if pair == BIG else [*engines, "pivfleet_openpiv"]


def run_in_process(engine: str, a: np.ndarray, b: np.ndarray) -> None:
    if engine == REFERENCE:
        import contextlib
        import io

        from openpiv import windef

        settings = windef.PIVSettings()
        with contextlib.redirect_stdout(io.StringIO()):
            windef.simple_multipass(a.astype(np.float32), b.astype(np.float32), settings)
        return
    from pivfleet.core.spec import PivSettings
    from pivfleet.engine.reference import run_passes

    run_passes(a, b, PivSettings(engine="fast" if engine == "pivfleet_fast" else "openpiv"))


def one(engine: str, folder: Path, pair: str) -> None:
    """Child process: warm up on a crop, time one call, print seconds and peak RSS."""
    a, b = (np.load(folder / f"{pair}_{side}.npy").astype(float) for side in "ab")
    if engine.startswith("pivfleet"):
        run_in_process(engine, a[:256, :256], b[:256, :256])
    started = time.perf_counter()
    run_in_process(engine, a, b)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": round(seconds, 3), "peak_rss_mib": round(peak)}))


def measure_kernel(engine: str, folder: Path, pair: str) -> dict[str, float]:
    frames = [str(folder / f"{pair}_{side}.npy") for side in "ab"]
    if engine in PEER_VENVS:
        python = str(ROOT / PEER_VENVS[engine] / "bin" / "python")
        command = [python, str(ROOT / "bench" / "peers" / "one_peer.py"), engine, *frames]
        command += ["--out", str(folder / "peer-out")]
    else:
        command = [sys.executable, __file__, "--one", engine, str(folder), pair]
    env = {**os.environ, **SINGLE_THREAD}
    done = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return {"seconds": report["seconds"], "peak_rss_mib": report["peak_rss_mib"]}


def measure_run(runner: str, folder: Path, pair: str) -> dict[str, float]:
    """One whole process on the pair's own folder: wall seconds and peak PSS (MiB)."""
    images, out = folder / pair, folder / f"out-{pair}-{runner}"
    if runner == "pivfleet_run_fast":
        argv = [sys.executable, "-m", "pivfleet.cli.main", "run", str(images), "--out", str(out)]
        argv += ["--replace", "--workers", "1", "--tiling", "none", "--engine", "fast"]
    else:
        out.mkdir(exist_ok=True)
        paths = [str(p) for p in sorted(images.glob("*.tif"))]
        argv = [sys.executable, "-c", OPENPIV_SCRIPT, *paths, str(out / f"{pair}.txt")]
    report = timed_run(argv)
    return {"seconds": report["seconds"], "peak_rss_mib": report["peak_mib"]}


def prepare_pairs(folder: Path) -> None:
    """Each pair as .npy (for the kernels) and as TIFFs in a folder of its own (for runs)."""
    from pivfleet.cli.samples import copy_samples
    from pivfleet.core.imaging import read_frame

    samples = folder / "samples"
    copy_samples(samples)
    medium = make_pair((1000, 1337), vortex((500, 668)), bits=16, seed=4)
    write_pair(folder / "vortex1000", "vortex1000", medium)
    big = make_pair((4400, 6600), vortex((2200, 3300), core_px=600), bits=16, seed=5)
    write_pair(folder / BIG, BIG, big)
    (folder / "test4").mkdir()
    for side, path in zip("ab", sorted(samples.glob("test4_?.*")), strict=True):
        (folder / "test4" / f"test4_{side}.tif").write_bytes(path.read_bytes())
    for pair in ("test4", "vortex1000", BIG):
        for side, path in zip("ab", sorted((folder / pair).glob("*.tif")), strict=True):
            np.save(folder / f"{pair}_{side}.npy", read_frame(str(path)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--big-repeats", type=int, default=1, help="for the 29 MP pair")
    parser.add_argument("--one", nargs=3, metavar=("ENGINE", "FOLDER", "PAIR"))
    parser.add_argument("--prepare", metavar="FOLDER", help="write the pairs there and stop")
    args = parser.parse_args()
    if args.one:
        one(args.one[0], Path(args.one[1]), args.one[2])
        return
    if args.prepare:
        prepare_pairs(Path(args.prepare))
        return
    with tempfile.TemporaryDirectory() as scratch:
        folder, pairs = Path(scratch), ["test4", "vortex1000", BIG]
        # In a process of its own: a child inherits its parent's peak RSS (ru_maxrss).
        subprocess.run([sys.executable, __file__, "--prepare", scratch], check=True)
        runners = ["openpiv_script", "pivfleet_run_fast"]
        kernels = {p: {e: [] for e in kernel_engines(p)} for p in pairs}
        runs = {p: {r: [] for r in runners} for p in pairs}
        for repeat in range(args.repeats):
            for pair in pairs:
                if pair == BIG and repeat >= args.big_repeats:
                    continue
                for engine in kernels[pair]:
                    kernels[pair][engine].append(measure_kernel(engine, folder, pair))
                for runner in runners:
                    runs[pair][runner].append(measure_run(runner, folder, pair))
                print(pair, json.dumps({**kernels[pair], **runs[pair]}), flush=True)
    missing = [p for p, venv in PEER_VENVS.items() if not (ROOT / venv).exists()]
    report = {
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.python_version()}",
        "command": f".venv/bin/python bench/engine.py --repeats {args.repeats} "
        f"--big-repeats {args.big_repeats}",
        "threads": SINGLE_THREAD,
        "peers_left_out": {p: "no venv: bash bench/peers/setup.sh" for p in missing},
        "kernel": {pair: summarise(results, REFERENCE) for pair, results in kernels.items()},
        "whole_run": {pair: summarise(results, "openpiv_script") for pair, results in runs.items()},
    }
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


def summarise(results: dict[str, list[dict[str, float]]], reference: str) -> dict[str, object]:
    medians = {e: statistics.median(r["seconds"] for r in runs) for e, runs in results.items()}
    return {
        engine: {
            "median_seconds": medians[engine],
            f"speed_vs_{reference}": round(medians[reference] / medians[engine], 2),
            "peak_mib": max(r["peak_rss_mib"] for r in runs),
            "seconds": [r["seconds"] for r in runs],
        }
        for engine, runs in results.items()
    }


if __name__ == "__main__":
    main()
