"""What a fast-engine run imports: process start is on every run's path, so the fast engine does
without scipy.interpolate (~0.4 s: OpenPIV's and the reference's), OpenPIV and xarray."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
NOT_IMPORTED = {"scipy.interpolate", "openpiv", "xarray"}
"""A submodule's import imports its package first: these names are enough."""
IMPORT_LINE = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s+(\S+)$", re.MULTILINE)


def imported_in_run(frames: Path, out: Path, tiling: str) -> set[str]:
    """The modules `pivfleet run --engine fast` imports, in the CLI's process and in its pool's
    (forked: `-X importtime` reports both on stderr)."""
    command = [sys.executable, "-X", "importtime", "-m", "pivfleet.cli", "run", str(frames)]
    options = ["--out", str(out), "--engine", "fast", "--workers", "1", "--tiling", tiling]
    # This checkout's pivfleet, not an installed one.
    env = {**os.environ, "PYTHONPATH": str(REPOSITORY)}
    done = subprocess.run(
        [*command, *options], capture_output=True, text=True, env=env, cwd=REPOSITORY, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return set(IMPORT_LINE.findall(done.stderr))


def test_a_fast_run_imports_neither_scipy_interpolate_nor_openpiv_nor_xarray(
    one_pair: Path, tmp_path: Path
) -> None:
    """Tiled (the collector predicts each pass) and whole (the worker does)."""
    for tiling in ("128", "none"):
        modules = imported_in_run(one_pair, tmp_path / f"out-{tiling}", tiling)
        assert "pivfleet.engine.fast_backend" in modules  # the pool's imports are seen
        assert {m.split(".")[0] for m in modules} >= {"numba", "netCDF4"}
        unwanted = modules & NOT_IMPORTED
        assert not unwanted
