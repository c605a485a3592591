"""What bounds the fast engine's speed (issue #12): its FFTs alone, and a fresh process's start.

- **FFT floor**: on each pair, the seconds of the fast engine's correlation FFTs and nothing
  else: for every pass, every block of window rows `engine/correlation.py` correlates, the
  real FFTs of both frames' windows and the inverse of their product, single precision, one
  thread. Through `scipy.fft` (pocketfft, what the engine calls), `numpy.fft`, and, where
  importable (`--site DIR`: a folder they were `pip install --target`ed into), pyFFTW's and
  mkl_fft's scipy backends. OpenPIV's `simple_multipass` (float32) and the whole fast kernel
  run in the same rounds, so OpenPIV's seconds over an FFT floor is the highest ratio an
  engine making those FFTs with that library could reach, were everything else free.
- **start floor**: wall seconds of a fresh `python -c` that imports numpy, scipy.fft, numba
  and pydantic and makes one call of a cached compiled function (what any `pivfleet run` pays
  before it reads a frame), against OpenPIV's whole-run script on test4 (`bench/engine.py`).

Each measurement is a fresh process, alternated in rounds. Writes bench/results/fft_floor.json.

Run: .venv/bin/python bench/fft_floor.py [--repeats 2] [--site /tmp/fft-libs]
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from engine import BIG, REFERENCE, measure_kernel, measure_run
from memory import SINGLE_THREAD

RESULTS = Path(__file__).parent / "results" / "fft_floor.json"
PAIRS = ("test4", BIG)
LIBRARIES = ("scipy", "numpy", "pyfftw", "mkl_fft")
START_FLOOR = (
    "import numpy, scipy.fft, numba, pydantic\n"
    "@numba.njit(cache=True)\n"
    "def total(x):\n"
    "    return x.sum()\n"
    "total(numpy.ones(3))\n"
)


def fft_calls(library: str) -> tuple[object, object]:
    """rfft2 and irfft2 of `library`, single-threaded, as the engine calls scipy.fft's."""
    if library == "numpy":
        return (
            lambda x, axes, workers: np.fft.rfft2(x, axes=axes),
            lambda x, s, axes, workers: np.fft.irfft2(x, s, axes=axes),
        )
    import scipy.fft

    if library == "pyfftw":
        import pyfftw
        import pyfftw.interfaces.scipy_fft as backend

        pyfftw.interfaces.cache.enable()
        pyfftw.config.NUM_THREADS = 1
        scipy.fft.set_global_backend(backend)
    elif library == "mkl_fft":
        import mkl_fft.interfaces.scipy_fft as backend

        scipy.fft.set_global_backend(backend)
    return scipy.fft.rfft2, scipy.fft.irfft2


def ffts_only(library: str, folder: Path, pair: str, site: str | None) -> None:
    """Child process: the correlation FFTs of every pass on the pair; prints seconds."""
    if site:
        sys.path.append(site)  # after the venv's own: its numpy and scipy stay the ones used
    from pivfleet.core.spec import PivSettings
    from pivfleet.engine.correlation import band_windows, block_rows
    from pivfleet.engine.kernel import pass_grids

    rfft2, irfft2 = fft_calls(library)
    a, b = (np.load(folder / f"{pair}_{side}.npy").astype(np.float32) for side in "ab")
    grids = pass_grids(PivSettings(engine="fast"))
    rfft2(np.ones((2, 16, 16), np.float32), axes=(-2, -1), workers=1)  # load, plan
    started = time.perf_counter()
    for grid in grids:
        rows, cols = grid.shape(a.shape)
        block = block_rows(grid, cols)
        for first in range(0, rows, block):
            part = slice(first, min(first + block, rows))
            spectra = [rfft2(band_windows(f, grid, part), axes=(-2, -1), workers=1) for f in (a, b)]
            irfft2(spectra[0] * spectra[1], (grid.window,) * 2, axes=(-2, -1), workers=1)
    print(json.dumps({"seconds": round(time.perf_counter() - started, 3)}))


def measure_ffts(library: str, folder: Path, pair: str, site: str | None) -> float | None:
    env = {**os.environ, **SINGLE_THREAD}
    command = [sys.executable, __file__, "--one", library, str(folder), pair]
    command += ["--site", site] if site else []
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        return None  # the library is not importable here
    return float(json.loads(done.stdout.strip().splitlines()[-1])["seconds"])


def measure_start(folder: Path) -> float:
    """A fresh process's start floor; its compiled function cached by a first, untimed run."""
    script = folder / "start_floor.py"  # numba caches only what a file defines
    if not script.exists():
        script.write_text(START_FLOOR)
        subprocess.run([sys.executable, script], check=True)
    started = time.perf_counter()
    subprocess.run([sys.executable, script], check=True)
    return round(time.perf_counter() - started, 3)


def one_round(folder: Path, site: str | None, rounds: dict[str, dict[str, list[float]]]) -> None:
    for pair in PAIRS:
        for engine in (REFERENCE, "pivfleet_fast"):
            rounds[pair][engine].append(measure_kernel(engine, folder, pair)["seconds"])
        for library in LIBRARIES:
            seconds = measure_ffts(library, folder, pair, site)
            if seconds is not None:
                rounds[pair][f"ffts_{library}"].append(seconds)
    rounds["start"]["start_floor"].append(measure_start(folder))
    rounds["start"]["openpiv_script_test4"].append(
        measure_run("openpiv_script", folder, "test4")["seconds"]
    )


def summarise(rounds: dict[str, dict[str, list[float]]]) -> dict[str, object]:
    report: dict[str, object] = {}
    for pair in PAIRS:
        medians = {k: statistics.median(v) for k, v in rounds[pair].items() if v}
        report[pair] = {
            name: {
                "median_seconds": seconds,
                "openpiv_over_this": round(medians[REFERENCE] / seconds, 2),
                "seconds": rounds[pair][name],
            }
            for name, seconds in medians.items()
        }
    start = {k: statistics.median(v) for k, v in rounds["start"].items()}
    report["start"] = {
        **{k: {"median_seconds": s, "seconds": rounds["start"][k]} for k, s in start.items()},
        "openpiv_script_over_start_floor": round(
            start["openpiv_script_test4"] / start["start_floor"], 2
        ),
    }
    return report


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--site", help="a folder pyFFTW and mkl_fft were pip-installed into")
    parser.add_argument("--one", nargs=3, metavar=("LIBRARY", "FOLDER", "PAIR"))
    args = parser.parse_args()
    if args.one:
        ffts_only(args.one[0], Path(args.one[1]), args.one[2], args.site)
        return
    rounds: dict[str, dict[str, list[float]]] = {
        **{p: {k: [] for k in (REFERENCE, "pivfleet_fast")} for p in PAIRS},
        "start": {"start_floor": [], "openpiv_script_test4": []},
    }
    for pair in PAIRS:
        rounds[pair].update({f"ffts_{lib}": [] for lib in LIBRARIES})
    with tempfile.TemporaryDirectory() as scratch:
        engine_script = Path(__file__).parent / "engine.py"
        subprocess.run([sys.executable, engine_script, "--prepare", scratch], check=True)
        for _ in range(args.repeats):
            one_round(Path(scratch), args.site, rounds)
            print(json.dumps(rounds), flush=True)
    report = {
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.python_version()}",
        "command": f".venv/bin/python bench/fft_floor.py --repeats {args.repeats}"
        + (f" --site {args.site}" if args.site else ""),
        "threads": SINGLE_THREAD,
        "libraries_left_out": [lib for lib in LIBRARIES if not rounds[PAIRS[0]][f"ffts_{lib}"]],
        **summarise(rounds),
    }
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
