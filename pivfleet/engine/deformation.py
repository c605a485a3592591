"""The fast engine's symmetric window deformation: both frames resampled at `pixel ∓ predictor/2`
with cubic B-splines, as OpenPIV's `create_deformation_field` + `map_coordinates(order=3,
mode="nearest")` resample them, in one compiled loop over the pixels.

The loop evaluates the predictor's cubic spline (fitpack's, `engine/splines.py`) at each pixel
from per-row and per-column basis weights (no dense displacement fields) and samples both frames
there: no full-frame float64 array is made but each frame's spline coefficients, computed as
scipy computes them (edge values 12 pixels out, then the mirror-boundary recursion), one frame
at a time. The deformed frames are single precision (the correlation's), ~1e-7 of the frame's
range from scipy's values."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numba
import numpy as np
import numpy.typing as npt

from pivfleet.core.imaging import Frame, Pixels
from pivfleet.engine.splines import Bases, bases, fit
from pivfleet.engine.threads import bands, map_threads

if TYPE_CHECKING:
    from pivfleet.engine.kernel import Predictor

SPLINE_PAD_PIXELS = 12
"""scipy pads a frame this much (edge values) before its prefilter in mode "nearest"; the
same padding gives the same coefficients."""
POLE = math.sqrt(3.0) - 2.0
"""The cubic B-spline prefilter's pole."""
GAIN = 6.0
"""The cubic prefilter's gain, (1 - POLE)(1 - 1/POLE)."""
HORIZON = 40
"""Terms of the mirror boundary's initial sum: |POLE|^40 ≈ 1e-23, below double rounding."""
COLUMN_BLOCK = 64
"""Columns (or rows) filtered together: a block of a 4,400-row frame is 2 MB of float64."""
Coefficients = npt.NDArray[np.float64]
Single = npt.NDArray[np.float32]


def spline_coefficients(frame: Pixels) -> Coefficients:
    """The cubic B-spline coefficients of `frame`, padded `SPLINE_PAD_PIXELS` each side."""
    padded = np.pad(np.asarray(frame, np.float64), SPLINE_PAD_PIXELS, mode="edge")
    _filter_columns(padded)
    _filter_columns(padded.T)  # along the rows: the same blocks, read across
    return padded


def deform_pair(
    frames: tuple[Pixels, Pixels], predictor: Predictor, origin: tuple[int, int]
) -> tuple[Single, Single]:
    """Frame A sampled at `pixel - d/2` and frame B at `pixel + d/2`, `d` the cubic spline
    through the predictor, for the crop whose top-left pixel is `origin` in the frame; in
    single precision."""
    shape = frames[0].shape
    spline_u = fit(predictor.ys, predictor.xs, predictor.u)
    spline_v = fit(predictor.ys, predictor.xs, predictor.v)
    rows = bases(spline_u.row_knots, np.arange(origin[0], origin[0] + shape[0], dtype=float))
    cols = bases(spline_u.col_knots, np.arange(origin[1], origin[1] + shape[1], dtype=float))
    spline = (spline_u.coefficients, spline_v.coefficients)
    moved_a = _deform_frame(frames[0], -0.5, rows, cols, spline)
    return moved_a, _deform_frame(frames[1], 0.5, rows, cols, spline)


def _deform_frame(
    frame: Pixels, sign: float, rows: Bases, cols: Bases, spline: tuple[Frame, Frame]
) -> Single:
    """One frame sampled at `pixel + sign·d`, a band of rows per thread."""
    out, coefficients = np.empty(frame.shape, np.float32), spline_coefficients(frame)

    def deform_band(band: slice) -> None:
        band_rows = (rows[0][band], rows[1][band])
        _deform(coefficients, sign, band.start, band_rows, cols, spline, out[band])

    map_threads(deform_band, bands(frame.shape[0]))
    return out


@numba.njit(cache=True, fastmath=True, nogil=True)
def _deform(  # noqa: PLR0913 - a compiled loop takes its arrays one by one
    coef: Coefficients,
    sign: float,
    first_row: int,
    rows: tuple[npt.NDArray[np.intp], Frame],
    cols: tuple[npt.NDArray[np.intp], Frame],
    spline: tuple[Frame, Frame],
    out: Single,
) -> None:  # pragma: no cover - compiled
    """`out` = the frame sampled at `pixel + sign·d` on its rows from `first_row`; `rows` (of
    those) and `cols` are the predictor spline's first coefficient and basis weights at each
    pixel row and column."""
    (row_first, row_weights), (col_first, col_weights) = rows, cols
    spline_u, spline_v = spline
    line_u, line_v = np.empty(spline_u.shape[1]), np.empty(spline_u.shape[1])
    for r in range(out.shape[0]):
        # The predictor's spline along this row: its row factor applied once, not per pixel.
        line_u[:] = 0.0
        line_v[:] = 0.0
        for i in range(4):
            line_u += row_weights[r, i] * spline_u[row_first[r] + i]
            line_v += row_weights[r, i] * spline_v[row_first[r] + i]
        for c in range(out.shape[1]):
            u = v = 0.0
            for j in range(4):
                u += col_weights[c, j] * line_u[col_first[c] + j]
                v += col_weights[c, j] * line_v[col_first[c] + j]
            out[r, c] = _interpolate(coef, first_row + r + sign * v, c + sign * u)


@numba.njit(cache=True, fastmath=True, inline="always")
def _interpolate(coef: Coefficients, y: float, x: float) -> float:  # pragma: no cover - compiled
    """The cubic spline with coefficients `coef` at frame pixel (y, x); beyond the padding
    the nearest coefficients are used."""
    y += SPLINE_PAD_PIXELS
    x += SPLINE_PAD_PIXELS
    iy, ix = math.floor(y), math.floor(x)
    wy0, wy1, wy2, wy3 = _cubic_weights(y - iy)
    wx0, wx1, wx2, wx3 = _cubic_weights(x - ix)
    last_row, last_col = coef.shape[0] - 1, coef.shape[1] - 1
    if 1 <= iy <= last_row - 2 and 1 <= ix <= last_col - 2:
        r0, r1, r2, r3 = coef[iy - 1], coef[iy], coef[iy + 1], coef[iy + 2]
        return float(
            wy0 * (wx0 * r0[ix - 1] + wx1 * r0[ix] + wx2 * r0[ix + 1] + wx3 * r0[ix + 2])
            + wy1 * (wx0 * r1[ix - 1] + wx1 * r1[ix] + wx2 * r1[ix + 1] + wx3 * r1[ix + 2])
            + wy2 * (wx0 * r2[ix - 1] + wx1 * r2[ix] + wx2 * r2[ix + 1] + wx3 * r2[ix + 2])
            + wy3 * (wx0 * r3[ix - 1] + wx1 * r3[ix] + wx2 * r3[ix + 1] + wx3 * r3[ix + 2])
        )
    rows = [min(max(iy - 1 + a, 0), last_row) for a in range(4)]
    cols = [min(max(ix - 1 + b, 0), last_col) for b in range(4)]
    total = 0.0
    for a, wy in enumerate((wy0, wy1, wy2, wy3)):
        for b, wx in enumerate((wx0, wx1, wx2, wx3)):
            total += wy * wx * coef[rows[a], cols[b]]
    return total


@numba.njit(cache=True, fastmath=True, inline="always")
def _cubic_weights(t: float) -> tuple[float, float, float, float]:  # pragma: no cover - compiled
    """The cubic B-spline's weights of the four coefficients around a point `t` past the
    second one."""
    t2, t3, s = t * t, t * t * t, 1.0 - t
    return s * s * s / 6, (3 * t3 - 6 * t2 + 4) / 6, (-3 * t3 + 3 * t2 + 3 * t + 1) / 6, t3 / 6


@numba.njit(cache=True)
def _filter_columns(frame: Coefficients) -> None:  # pragma: no cover - compiled
    """Down the columns a block at a time: each step of the recursion is then a loop over
    contiguous memory."""
    block = np.empty((frame.shape[0], COLUMN_BLOCK))
    for start in range(0, frame.shape[1], COLUMN_BLOCK):
        width = min(COLUMN_BLOCK, frame.shape[1] - start)
        for r in range(frame.shape[0]):
            for k in range(width):
                block[r, k] = frame[r, start + k] * GAIN
        _prefilter(block[:, :width])
        for r in range(frame.shape[0]):
            for k in range(width):
                frame[r, start + k] = block[r, k]


@numba.njit(cache=True)
def _prefilter(c: Frame) -> None:  # pragma: no cover - compiled
    """scipy's cubic prefilter down axis 0 of `c` in place, mirror boundaries: the causal
    recursion from its mirror-sum start, then the anti-causal one (scipy's ni_splines.c)."""
    n, width, z = c.shape[0], c.shape[1], POLE
    z_last = z ** (n - 1)
    for k in range(width):
        first, z_i = c[0, k] + z_last * c[n - 1, k], z
        for i in range(1, min(n - 1, HORIZON)):
            first += z_i * (c[i, k] + z_last * c[n - 1 - i, k])
            z_i *= z
        c[0, k] = first / (1 - z_last * z_last)
    for i in range(1, n):
        for k in range(width):
            c[i, k] += z * c[i - 1, k]
    for k in range(width):
        c[n - 1, k] = (z * c[n - 2, k] + c[n - 1, k]) * z / (z * z - 1)
    for i in range(n - 2, -1, -1):
        for k in range(width):
            c[i, k] = z * (c[i + 1, k] - c[i, k])
