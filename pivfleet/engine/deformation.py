"""The fast engine's symmetric window deformation: both frames resampled at `pixel ∓ predictor/2`
with cubic B-splines, as OpenPIV's `create_deformation_field` + `map_coordinates(order=3,
mode="nearest")` resample them, in one compiled pass over the rows.

Each row evaluates the predictor's cubic spline (fitpack's, `engine/splines.py`) at each pixel
from per-row and per-column basis weights (no dense displacement fields), once for both frames,
and samples both there. No full-frame float64 array is made: each frame's spline coefficients
are single precision, computed as scipy computes them (edge values 12 pixels out, then the
mirror-boundary recursion, in double) but each cut to the 11 pixels around it, so a crop's
coefficients are the whole frame's (`REACH_PIXELS`), and once per pair, not per pass. The
deformed frames are single precision (the correlation's), under 1e-6 of the frame's range from
scipy's values (3e-7 on test4, 7e-7 on white noise)."""

from __future__ import annotations

import math
import weakref
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
REACH_PIXELS = 11
"""Pixels each side that make a coefficient. scipy's prefilter reaches the whole line, so a
crop's coefficients depend on where the crop ends (its edges are a boundary to the filter):
within ~15 px of them they differ from the frame's by more than single precision, and a tiled
pass samples other values than the whole pair's (test5: 1e-4 px). Each recursion cut at 11 px
(|POLE|^12 ≈ 1.4e-7 of the pixels' spread left out), a coefficient is the same sum of the same
pixels in a crop and in the whole frame. A pass's crop holds 12 px beyond where it samples
(`core.spec.STENCIL_PIXELS`, `engine.rounds.predictor_reach`), and the cubic stencil reads one
coefficient before a sample, so 11 are in the crop."""
TAIL = POLE ** (REACH_PIXELS + 1)
"""A recursion's weight `REACH_PIXELS + 1` pixels back: its value there so weighted, taken off,
leaves the last `REACH_PIXELS + 1` terms, whatever the recursion started from."""
COLUMN_BLOCK = 32
"""Columns (or rows) filtered together: a block of a 4,400-row frame is 1 MB of float64."""
Single = npt.NDArray[np.float32]
Stencils = tuple[Single, Single, npt.NDArray[np.uintp]]
"""Per pixel of a row: fractional offsets down and across, and the flat index of the first
coefficient (unsigned: the compiler then checks no negative index per read)."""


def spline_coefficients(frame: Pixels) -> Single:
    """The cubic B-spline coefficients of `frame`, padded `SPLINE_PAD_PIXELS` each side, in
    single precision (filtered in double, a block at a time)."""
    pad = 2 * SPLINE_PAD_PIXELS
    padded = np.empty((frame.shape[0] + pad, frame.shape[1] + pad), np.float32)
    _filter_columns(np.asarray(frame), padded)
    _filter_columns(padded.T, padded.T)  # along the rows: the same blocks, read across
    return padded


def pair_coefficients(frames: tuple[Pixels, Pixels]) -> tuple[Single, Single]:
    """Both frames' coefficients, computed once per pair: every pass after the first resamples
    the same two frames (the engine never changes a frame it is given)."""
    cached = _COEFFICIENTS.get("pair")
    if cached is not None and all(r() is f for r, f in zip(cached[0], frames, strict=True)):
        return cached[1]
    _COEFFICIENTS.clear()  # the last pair's first: never two pairs' coefficients at once
    coefficients = (spline_coefficients(frames[0]), spline_coefficients(frames[1]))
    # Dropped with either frame: a finished pair's coefficients do not outlive it.
    refs = tuple(weakref.ref(f, lambda _: _COEFFICIENTS.clear()) for f in frames)
    _COEFFICIENTS["pair"] = (refs, coefficients)
    return coefficients


_COEFFICIENTS: dict[str, tuple[tuple[weakref.ref[Pixels], ...], tuple[Single, Single]]] = {}


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
    coefficients = pair_coefficients(frames)
    moved = (np.empty(shape, np.float32), np.empty(shape, np.float32))

    def deform_band(band: slice) -> None:
        band_rows = (rows[0][band], rows[1][band])
        out = (moved[0][band], moved[1][band])
        _deform(coefficients, band.start, (band_rows, cols), spline, out)

    map_threads(deform_band, bands(shape[0]))
    return moved


@numba.njit(cache=True, fastmath=True, nogil=True)
def _deform(
    coefficients: tuple[Single, Single],
    first_row: int,
    basis: tuple[Bases, Bases],
    spline: tuple[Frame, Frame],
    out: tuple[Single, Single],
) -> None:  # pragma: no cover - compiled
    """`out` = both frames sampled at `pixel ∓ d/2` on their rows from `first_row`; `basis`,
    the predictor spline's first coefficient and basis weights at each pixel row (of those) and
    column. The predictor is evaluated once per pixel for both frames."""
    (row_first, row_weights), (col_first, col_weights) = basis
    spline_u, spline_v = spline
    line_u, line_v = np.empty(spline_u.shape[1]), np.empty(spline_u.shape[1])
    width = out[0].shape[1]
    u, v = np.empty(width), np.empty(width)
    stencils = (np.empty(width, np.float32), np.empty(width, np.float32), np.empty(width, np.uintp))
    for r in range(out[0].shape[0]):
        # The predictor's spline along this row: its row factor applied once, not per pixel.
        line_u[:] = 0.0
        line_v[:] = 0.0
        for i in range(4):
            weight, source = row_weights[r, i], row_first[r] + i
            for k in range(line_u.size):
                line_u[k] += weight * spline_u[source, k]
                line_v[k] += weight * spline_v[source, k]
        for c in range(u.size):
            at, weights = col_first[c], col_weights[c]
            u[c] = weights[0] * line_u[at] + weights[1] * line_u[at + 1]
            u[c] += weights[2] * line_u[at + 2] + weights[3] * line_u[at + 3]
            v[c] = weights[0] * line_v[at] + weights[1] * line_v[at + 1]
            v[c] += weights[2] * line_v[at + 2] + weights[3] * line_v[at + 3]
        # Each frame's row in two loops, so the compiler vectorises both: each pixel's stencil
        # (where it starts in the coefficients, its fractional offsets), then the samples.
        for side, sign in enumerate((-0.5, 0.5)):
            coef = coefficients[side]
            _stencils(coef.shape, first_row + r, (u, v), sign, stencils)
            _gather(coef.ravel(), coef.shape[1], stencils, out[side][r])


@numba.njit(cache=True, fastmath=True, nogil=True)
def _stencils(
    shape: tuple[int, int], row: int, shift: tuple[Frame, Frame], sign: float, stencils: Stencils
) -> None:  # pragma: no cover - compiled
    """Each pixel's stencil: its fractional offsets down and across (single precision, the
    weights') and its first coefficient's flat index (positions in double: a float32 pixel
    coordinate near 6,000 is only good to 5e-4 px). A stencil reaching past the padding (a
    displacement over 22 px at the frame's edge) is moved inside it: the padding is the edge
    values, as scipy's mode "nearest" extends the frame, so its coefficients are the edge's
    within single precision (6e-7 of the range on white noise moved 40 px: the unit test)."""
    frac_y, frac_x, first = stencils
    u, v = shift
    top, left = shape[0] - 4, shape[1] - 4  # the last first index of a whole stencil
    for c in range(first.size):
        y = row + sign * v[c] + SPLINE_PAD_PIXELS
        x = c + sign * u[c] + SPLINE_PAD_PIXELS
        floor_y, floor_x = math.floor(y), math.floor(x)
        frac_y[c], frac_x[c] = np.float32(y - floor_y), np.float32(x - floor_x)
        iy, ix = min(max(int(floor_y) - 1, 0), top), min(max(int(floor_x) - 1, 0), left)
        first[c] = iy * shape[1] + ix


@numba.njit(cache=True, fastmath=True, nogil=True)
def _gather(
    flat: Single, width: int, stencils: Stencils, out: Single
) -> None:  # pragma: no cover - compiled
    """`out` = the cubic spline with coefficients `flat` (padded, rows of `width`) at each
    stencil: along its four coefficient rows, then down them."""
    frac_y, frac_x, first = stencils
    row1, row2, row3 = np.uintp(width), np.uintp(2 * width), np.uintp(3 * width)
    for c in range(out.size):
        wy0, wy1, wy2, wy3 = _cubic_weights(frac_y[c])
        wx0, wx1, wx2, wx3 = _cubic_weights(frac_x[c])
        at = first[c]
        s0 = wx0 * flat[at] + wx1 * flat[at + 1] + wx2 * flat[at + 2] + wx3 * flat[at + 3]
        at1, at2, at3 = at + row1, at + row2, at + row3
        s1 = wx0 * flat[at1] + wx1 * flat[at1 + 1] + wx2 * flat[at1 + 2] + wx3 * flat[at1 + 3]
        s2 = wx0 * flat[at2] + wx1 * flat[at2 + 1] + wx2 * flat[at2 + 2] + wx3 * flat[at2 + 3]
        s3 = wx0 * flat[at3] + wx1 * flat[at3 + 1] + wx2 * flat[at3 + 2] + wx3 * flat[at3 + 3]
        out[c] = wy0 * s0 + wy1 * s1 + wy2 * s2 + wy3 * s3


@numba.njit(cache=True, fastmath=True, inline="always")
def _cubic_weights(
    t: np.float32,
) -> tuple[np.float32, np.float32, np.float32, np.float32]:  # pragma: no cover - compiled
    """The cubic B-spline's weights of the four coefficients around a point `t` past the
    second one; they sum to one, so the third is what the others leave."""
    sixth, s = np.float32(1 / 6), np.float32(1) - t
    t2 = t * t
    first, last = s * s * s * sixth, t2 * t * sixth
    second = (np.float32(3) * t2 * t - np.float32(6) * t2 + np.float32(4)) * sixth
    return first, second, np.float32(1) - first - second - last, last


@numba.njit(cache=True)
def _filter_columns(source: npt.NDArray[np.generic], out: Single) -> None:  # pragma: no cover
    """`out` = `source`, edge values `SPLINE_PAD_PIXELS` beyond it each side when `out` is that
    much larger, filtered down the columns; a block of columns at a time, so each step of the
    recursion is a loop over contiguous memory."""
    pad_cols = (out.shape[1] - source.shape[1]) // 2
    block = np.empty((out.shape[0], COLUMN_BLOCK))
    for start in range(0, out.shape[1], COLUMN_BLOCK):
        width = min(COLUMN_BLOCK, out.shape[1] - start)
        # The source column of each of the block's (edge values left and right of the frame).
        columns = np.arange(start - pad_cols, start - pad_cols + width)
        columns = np.minimum(np.maximum(columns, 0), source.shape[1] - 1)
        _causal(source, columns, block[:, :width])
        _anticausal(block[:, :width], out[:, start : start + width])


@numba.njit(cache=True)
def _causal(
    source: npt.NDArray[np.generic], columns: npt.NDArray[np.intp], c: Frame
) -> None:  # pragma: no cover - compiled
    """`c` = the causal half of scipy's cubic prefilter (mirror boundaries, scipy's
    ni_splines.c) down `source`'s `columns` times the gain, edge rows repeated to `c`'s height:
    the mirror-sum start from the line's first and last `HORIZON` terms, then the recursion, in
    one pass over the rows."""
    n, z, pad = c.shape[0], POLE, (c.shape[0] - source.shape[0]) // 2
    z_last = z ** (n - 1)
    for k in range(c.shape[1]):
        at = columns[k]
        first = _gained(source, 0 - pad, at) + z_last * _gained(source, n - 1 - pad, at)
        z_i = z
        for i in range(1, min(n - 1, HORIZON)):
            first += z_i * (
                _gained(source, i - pad, at) + z_last * _gained(source, n - 1 - i - pad, at)
            )
            z_i *= z
        c[0, k] = first / (1 - z_last * z_last)
    for i in range(1, n):
        line = _edge_row(source, i - pad)
        for k in range(c.shape[1]):
            c[i, k] = line[columns[k]] * GAIN + z * c[i - 1, k]


@numba.njit(cache=True, inline="always")
def _gained(
    source: npt.NDArray[np.generic], row: int, column: int
) -> float:  # pragma: no cover - compiled
    """`source` at `row` (its edge rows beyond it) times the prefilter's gain."""
    return _edge_row(source, row)[column] * GAIN  # type: ignore[no-any-return]


@numba.njit(cache=True, inline="always")
def _edge_row(
    source: npt.NDArray[np.generic], row: int
) -> npt.NDArray[np.generic]:  # pragma: no cover - compiled
    """Row `row` of `source`, its first or last row beyond it (the padding's edge values)."""
    return source[min(max(row, 0), source.shape[0] - 1)]  # type: ignore[no-any-return]


@numba.njit(cache=True)
def _anticausal(c: Frame, out: Single) -> None:  # pragma: no cover - compiled
    """`out` = scipy's cubic prefilter down `c`, the causal sums: the anti-causal recursion
    walking up from scipy's end value, each recursion's sums cut to their last `REACH_PIXELS +
    1` terms where the line holds them: each minus the sum that many pixels back, weighted
    `TAIL`. The start's terms cancel, so a coefficient is the direct sum within double
    rounding, wherever the line (a crop) begins. The causal sums above a row are not
    overwritten yet when it is reached, nor the anti-causal ones below it read for its cut
    any more after it; `c` is overwritten."""
    n, width, z, back = c.shape[0], c.shape[1], POLE, REACH_PIXELS + 1
    for k in range(width):
        last, before = _causal_cut(c, n - 1, k), _causal_cut(c, n - 2, k)
        c[n - 1, k] = (z * before + last) * z / (z * z - 1)
        out[n - 1, k] = c[n - 1, k]
    for i in range(n - 2, -1, -1):
        ahead = i + back < n
        for k in range(width):
            c[i, k] = z * (c[i + 1, k] - _causal_cut(c, i, k))
            out[i, k] = c[i, k] - TAIL * c[i + back, k] if ahead else c[i, k]


@numba.njit(cache=True, inline="always")
def _causal_cut(c: Frame, i: int, k: int) -> float:  # pragma: no cover - compiled
    """The causal sum at row `i`, column `k`, cut (rows above `i` still hold the causal sums)."""
    if i >= REACH_PIXELS + 1:
        return c[i, k] - TAIL * c[i - REACH_PIXELS - 1, k]  # type: ignore[no-any-return]
    return c[i, k]  # type: ignore[no-any-return]
