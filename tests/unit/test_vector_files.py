"""A wrapped executable's output file read back: what a NaN means with and without flags, and a
file in another format than the spec declares, each refused with what was expected."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from pivfleet.algorithms.vector_files import VectorFileError, read_vectors

SHAPE, WINDOW, STEP = (3, 4), 32, 16


def openpiv_text(path: Path, u: np.ndarray, flags: np.ndarray | None = None) -> Path:
    rows, cols = u.shape
    i, j = np.mgrid[0:rows, 0:cols]
    x, y = j * STEP + WINDOW / 2, (rows - 1 - i) * STEP + WINDOW / 2
    columns = [x.ravel(), y.ravel(), u.ravel(), np.zeros(u.size)]
    if flags is not None:
        columns.append(flags.ravel())
    np.savetxt(path, np.column_stack(columns))
    return path


def lone_npy(path: Path) -> None:
    with path.open("wb") as file:
        np.save(file, np.zeros(SHAPE))


def with_nan() -> np.ndarray:
    u = np.ones(SHAPE)
    u[1, 2] = np.nan
    return u


def test_a_nan_without_flags_is_a_missing_vector(tmp_path: Path) -> None:
    vectors = read_vectors(
        openpiv_text(tmp_path / "v.txt", with_nan()), "pivfleet:openpiv-text", SHAPE, 32, 16
    )
    assert vectors.flags[1, 2] == 2 and (vectors.flags == 0).sum() == SHAPE[0] * SHAPE[1] - 1


def flagged_nan(tmp_path: Path, flag: int) -> Path:
    flags = np.zeros(SHAPE)
    flags[1, 2] = flag
    return openpiv_text(tmp_path / "v.txt", with_nan(), flags)


@pytest.mark.parametrize("flag", [1, 2])
def test_a_nan_flagged_replaced_or_missing_is_a_missing_vector(tmp_path: Path, flag: int) -> None:
    """1 is OpenPIV's invalid vector, NaN when it was not replaced."""
    path = flagged_nan(tmp_path, flag)
    assert read_vectors(path, "pivfleet:openpiv-text", SHAPE, 32, 16).flags[1, 2] == 2


def test_a_nan_flagged_valid_is_refused_with_its_place(tmp_path: Path) -> None:
    path = flagged_nan(tmp_path, 0)
    with pytest.raises(VectorFileError, match=r"1 NaN displacements flagged 0 .* row 1, column 2"):
        read_vectors(path, "pivfleet:openpiv-text", SHAPE, 32, 16)


def test_an_npz_nan_flagged_valid_is_refused(tmp_path: Path) -> None:
    np.savez(tmp_path / "v.npz", u=with_nan(), v=np.zeros(SHAPE), flags=np.zeros(SHAPE))
    with pytest.raises(VectorFileError, match="NaN displacements flagged 0"):
        read_vectors(tmp_path / "v.npz", "pivfleet:npz", SHAPE, 32, 16)


@pytest.mark.parametrize(
    ("write", "file_format", "problem"),
    [
        (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n\x00"), "pivfleet:openpiv-text", "not OpenPIV"),
        (lambda p: p.write_text("x y u v\n1 2 3 4\n"), "pivfleet:openpiv-text", "not OpenPIV"),
        (lambda p: p.write_text("16 16 1 0\n"), "pivfleet:npz", "not a NumPy .npz archive"),
        (lone_npy, "pivfleet:npz", "a single .npy"),
        (lambda p: p.write_text("nan 16 1 0\n"), "pivfleet:openpiv-text", "x or y is not a"),
    ],
)
def test_a_file_in_another_format_says_what_was_expected(
    tmp_path: Path, write: Callable[[Path], object], file_format: str, problem: str
) -> None:
    path = tmp_path / "output"
    write(path)
    with pytest.raises(VectorFileError, match=problem):
        read_vectors(path, file_format, SHAPE, 32, 16)
