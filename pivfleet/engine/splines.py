"""The fast engine's cubic interpolating spline on a grid: fitpack's (scipy's
`RectBivariateSpline` with kx=ky=3 and s=0, which OpenPIV's windef fits to a pass's field),
without importing scipy.interpolate (~0.4 s, its docstring processing included).

With s=0 fitpack interpolates with the not-a-knot knots: both ends four-fold, the interior
knots on the data points but the second and the last but one. The spline then has as many
coefficients as points per axis, and they solve the collocation systems of the two axes in turn
(a tensor product). Grids have at most a few hundred points per axis, so the dense solves take
milliseconds; the values equal fitpack's within rounding."""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import numpy.typing as npt

from pivfleet.core.imaging import Frame

CUBIC_POINTS = 4
"""B-splines non-zero at a point, and the fewest points a cubic spline interpolates."""
Bases = tuple[npt.NDArray[np.intp], Frame]
"""For each point: the first of its four non-zero B-splines, and their values there."""


@dataclass(frozen=True)
class GridSpline:
    """A cubic spline on the grid `rows × cols`: its knots per axis and its coefficients."""

    row_knots: Frame
    col_knots: Frame
    coefficients: Frame

    def __call__(self, ys: Frame, xs: Frame) -> Frame:
        """The spline on the grid `ys × xs`; beyond the knots, its value at the nearest end."""
        rows = basis_matrix(self.row_knots, ys)
        cols = basis_matrix(self.col_knots, xs)
        return rows @ self.coefficients @ cols.T


def fit(ys: Frame, xs: Frame, values: Frame) -> GridSpline:
    """The cubic spline through `values` at the grid points `ys × xs` (increasing)."""
    row_knots, col_knots = not_a_knot(ys), not_a_knot(xs)
    down_rows = np.linalg.solve(basis_matrix(row_knots, ys), values)
    coefficients = np.linalg.solve(basis_matrix(col_knots, xs), down_rows.T).T
    return GridSpline(row_knots, col_knots, np.ascontiguousarray(coefficients))


def not_a_knot(points: Frame) -> Frame:
    """fitpack's knots for interpolation (s=0) through `points`."""
    if points.size < CUBIC_POINTS:
        raise ValueError(f"a cubic spline needs {CUBIC_POINTS} points, got {points.size}")
    # Four-fold ends; not-a-knot: the second and the last but one points are no knots.
    ends = (np.full(CUBIC_POINTS, points[0]), np.full(CUBIC_POINTS, points[-1]))
    return np.concatenate([ends[0], points[2:-2], ends[1]]).astype(np.float64)


def basis_matrix(knots: Frame, points: Frame) -> Frame:
    """Row p: every B-spline on `knots` at `points[p]` (four of them non-zero)."""
    first, weights = bases(knots, points)
    matrix = np.zeros((points.size, knots.size - CUBIC_POINTS))
    columns = first[:, None] + np.arange(CUBIC_POINTS)
    np.put_along_axis(matrix, columns, weights, axis=1)
    return matrix


def bases(knots: Frame, points: Frame) -> Bases:
    """For each point, the first of its four non-zero cubic B-splines on `knots` and their
    values there; points beyond the knots are moved onto the ends (as fitpack evaluates)."""
    last = knots.size - 5
    clamped = np.clip(points, knots[3], knots[last + 1])
    spans = np.clip(np.searchsorted(knots, clamped, side="right") - 1, 3, last)
    weights = np.empty((points.size, 4))
    _basis_values(knots, clamped, spans, weights)
    return spans - 3, weights


@numba.njit(cache=True)
def _basis_values(
    knots: Frame, points: Frame, spans: npt.NDArray[np.intp], out: Frame
) -> None:  # pragma: no cover - compiled
    """de Boor's recurrence for the cubic B-splines non-zero at each point."""
    left, right = np.empty(4), np.empty(4)
    for p in range(points.size):
        x, span = points[p], spans[p]
        out[p, 0] = 1.0
        for j in range(1, 4):
            left[j], right[j] = x - knots[span + 1 - j], knots[span + j] - x
            saved = 0.0
            for r in range(j):
                term = out[p, r] / (right[r + 1] + left[j - r])
                out[p, r] = saved + right[r + 1] * term
                saved = left[j - r] * term
            out[p, j] = saved
