"""The vectors a wrapped executable writes, read back onto the job's grid and checked: OpenPIV's
text columns (y and v up, as `openpiv.tools.save` writes them after `transform_coordinates`) or
an `.npz` of u, v [, flags] in image coordinates (v down)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import numpy.typing as npt

from pivfleet.core.vectors import FLAG_MISSING, FLAG_REPLACED, FLAG_VALID, Vectors

Array = npt.NDArray[np.float64]
KNOWN_FLAGS = (FLAG_VALID, FLAG_REPLACED, FLAG_MISSING)
GRID_TOLERANCE_PIXELS = 0.5
"""How far a text file's x or y may sit from its window's centre (the file rounds to 4 digits)."""


class VectorFileError(ValueError):
    """An output file that does not hold the job's vectors: the message says what was expected."""


def read_vectors(
    path: Path, file_format: str, shape: tuple[int, int], window: int, step: int
) -> Vectors:
    """The vectors in `path` on the job's `shape` grid, checked (see `checked`)."""
    if file_format == "pivfleet:npz":
        u, v, flags = read_npz(path, shape)
    else:
        u, v, flags = read_openpiv_text(path, shape, window, step)
    return checked(u, v, flags)


def read_npz(path: Path, shape: tuple[int, int]) -> tuple[Array, Array, Array]:
    """Arrays u, v [, flags]; without flags every vector is valid unless NaN."""
    with open_npz(path) as archive:
        missing = sorted({"u", "v"} - set(archive.files))
        if missing:
            raise VectorFileError(f"has no array {missing}; it holds {sorted(archive.files)}")
        u, v = archive["u"].astype(np.float64), archive["v"].astype(np.float64)
        flags = archive["flags"] if "flags" in archive.files else unflagged(u, v)
    for name, array in (("u", u), ("v", v), ("flags", flags)):
        if array.shape != shape:
            raise VectorFileError(f"{name} is {array.shape} vectors, expected {shape}")
    return u, v, flags.astype(np.float64)


def open_npz(path: Path) -> np.lib.npyio.NpzFile:
    """The archive, or an error saying the file is something else (text, a lone .npy)."""
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError, zipfile.BadZipFile) as error:
        raise VectorFileError(f"is not a NumPy .npz archive (numpy.savez): {error}") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise VectorFileError("is a single .npy array, not an .npz of u, v [, flags]")
    return archive


def read_openpiv_text(
    path: Path, shape: tuple[int, int], window: int, step: int
) -> tuple[Array, Array, Array]:
    """Columns x y u v [flags [mask]], one line per vector in any order: each line is placed by
    its x and y (OpenPIV's: row r of the grid has y = (rows - 1 - r) * step + window / 2), and
    v is turned back to point down. A nonzero mask makes the vector missing."""
    table = read_table(path)
    rows, cols = grid_positions(table[:, 0], table[:, 1], shape, window, step)
    u, v, flags = (np.full(shape, np.nan) for _ in range(3))
    u[rows, cols], v[rows, cols] = table[:, 2], -table[:, 3]
    given = table[:, 4] if table.shape[1] > 4 else unflagged(table[:, 2], table[:, 3])
    flags[rows, cols] = given
    if table.shape[1] > 5:
        flags[rows, cols] = np.where(table[:, 5] != 0, FLAG_MISSING, flags[rows, cols])
    return u, v, flags


def read_table(path: Path) -> Array:
    """The file's numeric columns, at least x y u v, x and y finite."""
    try:
        table = np.loadtxt(path, comments="#", ndmin=2)
    except ValueError as error:
        raise VectorFileError(
            f"is not OpenPIV's text columns (x y u v [flags [mask]], numbers): {error}"
        ) from None
    if table.shape[1] < 4:
        raise VectorFileError(f"has {table.shape[1]} columns; OpenPIV's are x y u v [flags [mask]]")
    if not np.isfinite(table[:, :2]).all():
        raise VectorFileError("has lines whose x or y is not a number (each line is a place)")
    return table


def grid_positions(
    x: Array, y: Array, shape: tuple[int, int], window: int, step: int
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Each line's (row, column), or an error giving the grid the file holds instead."""
    got = (len(np.unique(y)), len(np.unique(x)))
    col = np.rint((x - window / 2) / step).astype(np.intp)
    row = shape[0] - 1 - np.rint((y - window / 2) / step).astype(np.intp)
    inside = (col >= 0) & (col < shape[1]) & (row >= 0) & (row < shape[0])
    off = np.hypot(x - (col * step + window / 2), y - ((shape[0] - 1 - row) * step + window / 2))
    unique = len(set(zip(row.tolist(), col.tolist(), strict=True))) == len(x)
    if got != shape or len(x) != shape[0] * shape[1] or not unique:
        raise VectorFileError(f"holds {got} vectors ({len(x)} lines), expected {shape}")
    if not inside.all() or off.max() > GRID_TOLERANCE_PIXELS:
        raise VectorFileError(
            f"vectors off the expected grid (centres window/2 + k × step = {window / 2:g} + "
            f"k × {step} px of the crop; y counted up from the last row as OpenPIV's)"
        )
    return row, col


def unflagged(u: Array, v: Array) -> Array:
    """Flags for a file that gives none: a NaN is a missing vector (OpenPIV's convention)."""
    return np.where(np.isnan(u) | np.isnan(v), FLAG_MISSING, FLAG_VALID).astype(np.float64)


def checked(u: Array, v: Array, flags: Array) -> Vectors:
    """Flags among 0 valid, 1 replaced, 2 missing; a NaN with no flag given, or flagged
    replaced (OpenPIV's invalid and not replaced) or missing, is a missing vector; an infinite
    value, or a NaN flagged valid, is refused: the program claims a vector it did not measure."""
    if np.isinf(u).any() or np.isinf(v).any():
        raise VectorFileError("holds infinite displacements; write NaN for a missing vector")
    unknown = sorted(set(np.unique(flags[np.isfinite(flags)]).tolist()) - set(KNOWN_FLAGS))
    if unknown or np.isnan(flags).any():
        raise VectorFileError(f"flags {unknown or ['NaN']}: use 0 valid, 1 replaced, 2 missing")
    claimed = (np.isnan(u) | np.isnan(v)) & (flags == FLAG_VALID)
    if claimed.any():
        row, col = (int(i) for i in np.argwhere(claimed)[0])
        raise VectorFileError(
            f"holds {int(claimed.sum())} NaN displacements flagged 0 (valid), the first at grid "
            f"row {row}, column {col}: flag a vector it could not measure 2 (missing)"
        )
    missing = np.isnan(u) | np.isnan(v) | (flags == FLAG_MISSING)
    u, v = np.where(missing, np.nan, u), np.where(missing, np.nan, v)
    return Vectors(u, v, np.where(missing, FLAG_MISSING, flags).astype(np.int8))
