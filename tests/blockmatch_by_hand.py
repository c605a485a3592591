"""The C example (`examples/c_algorithm/blockmatch.c`) run by hand, as a user would from a shell
on the whole frames: the reference its wrapped runs are compared with."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "c_algorithm"
Place = tuple[float, float]


def compile_blockmatch(compiler: str, folder: Path) -> Path:
    """The example compiled as its Dockerfile compiles it."""
    binary = folder / "blockmatch"
    source = EXAMPLE / "blockmatch.c"
    subprocess.run([compiler, "-O2", "-o", str(binary), str(source), "-lm"], check=True)
    return binary


def write_pgm(path: Path, frame: np.ndarray) -> Path:
    """8-bit binary PGM, written here independently of pivfleet's staging."""
    height, width = frame.shape
    path.write_bytes(f"P5\n{width} {height}\n255\n".encode() + frame.astype(np.uint8).tobytes())
    return path


def by_hand(binary: Path, frames: tuple[np.ndarray, np.ndarray], folder: Path) -> np.ndarray:
    """x y u v per line, from the program run in `folder` with window 32, step 16, search 8."""
    folder.mkdir()
    a, b = (write_pgm(folder / f"{side}.pgm", f) for side, f in zip("ab", frames, strict=True))
    command = [str(binary), str(a), str(b), "--window", "32", "--step", "16", "--search", "8"]
    subprocess.run([*command, "--out", "vectors.txt"], cwd=folder, check=True)
    return np.loadtxt(folder / "vectors.txt")[:, :4]


def by_place(table: np.ndarray) -> dict[Place, Place]:
    """(x, y) → (u, v) of OpenPIV text columns: files may order their lines differently."""
    return {(x, y): (u, v) for x, y, u, v in table[:, :4].tolist()}


def assert_same_vectors(got: np.ndarray, want: np.ndarray) -> None:
    """The same places and the same values as written (NaN where the program found none)."""
    got_at, want_at = by_place(got), by_place(want)
    assert got_at.keys() == want_at.keys()
    places = sorted(want_at)
    np.testing.assert_array_equal([got_at[k] for k in places], [want_at[k] for k in places])
