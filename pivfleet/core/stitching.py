"""Stitching tile cores into a pair's full field, and placing it in OpenPIV's coordinates."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pivfleet.core.spec import PivSettings
from pivfleet.core.tiling import Box
from pivfleet.core.vectors import FLAG_MISSING, Vectors


@dataclass(frozen=True)
class Field:
    """A pair's vectors as OpenPIV saves them after windef: y up from the bottom, v up."""

    x: npt.NDArray[np.float64]
    y: npt.NDArray[np.float64]
    u: npt.NDArray[np.float64]
    v: npt.NDArray[np.float64]
    flags: npt.NDArray[np.int8]


def stitch_tiles(grid: tuple[int, int], blocks: list[tuple[Box, Vectors | None]]) -> Vectors:
    """Place each core block; a block of None (failed tile) stays NaN and flagged missing."""
    u = np.full(grid, np.nan)
    v = np.full(grid, np.nan)
    flags = np.full(grid, FLAG_MISSING, dtype=np.int8)
    for core, vectors in blocks:
        if vectors is None:
            continue
        rows, cols = slice(core.y0, core.y1), slice(core.x0, core.x1)
        u[rows, cols], v[rows, cols], flags[rows, cols] = vectors.u, vectors.v, vectors.flags
    return Vectors(u, v, flags)


def mark_missing(vectors: Vectors, boxes: list[Box], piv: PivSettings) -> Vectors:
    """Vectors whose final window centre lies in one of `boxes` (pixels) become missing: a
    job that failed in an earlier pass left the ones there without their own measurement."""
    rows, cols = vectors.u.shape
    step, half = piv.steps[-1], piv.windows[-1] / 2.0
    ys, xs = np.arange(rows) * step + half, np.arange(cols) * step + half
    hole = np.zeros((rows, cols), bool)
    for box in boxes:
        hole |= ((ys >= box.y0) & (ys < box.y1))[:, None] & ((xs >= box.x0) & (xs < box.x1))
    return Vectors(
        np.where(hole, np.nan, vectors.u),
        np.where(hole, np.nan, vectors.v),
        np.where(hole, FLAG_MISSING, vectors.flags).astype(np.int8),
    )


def to_field(vectors: Vectors, piv: PivSettings) -> Field:
    """Window centres and OpenPIV's `transform_coordinates`: y grid reversed, v negated."""
    rows, cols = vectors.u.shape
    step, half = piv.steps[-1], piv.windows[-1] / 2.0
    x, y = np.meshgrid(np.arange(cols) * step + half, np.arange(rows) * step + half)
    return Field(x=x, y=y[::-1, :], u=vectors.u, v=-vectors.v, flags=vectors.flags)
