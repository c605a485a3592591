"""The fast engine's cubic interpolating spline on a grid: fitpack's (scipy's
`RectBivariateSpline` with kx=ky=3 and s=0, which OpenPIV's windef fits to a pass's field),
without importing scipy.interpolate (~0.4 s, its docstring processing included).

With s=0 fitpack interpolates with the not-a-knot knots: both ends four-fold, the interior
knots on the data points but the second and the last but one. The spline then has as many
coefficients as points per axis, and they solve the collocation systems of the two axes in turn
(a tensor product). Those systems are banded (four B-splines per point), so a compiled
elimination in the band solves them in microseconds, without LAPACK: its threads, woken between
the engine's compiled loops, made numpy's dense solve take milliseconds, and took cores from the
other worker. The values equal fitpack's within rounding (~1e-15 of the field)."""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import numpy.typing as npt

from pivfleet.core.imaging import Frame

CUBIC_POINTS = 4
"""B-splines non-zero at a point, and the fewest points a cubic spline interpolates."""
BAND = CUBIC_POINTS - 1
"""Columns either side of the diagonal that a collocation row, or its elimination, reaches."""
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
        down = _weigh(bases(self.row_knots, ys), self.coefficients)
        return np.ascontiguousarray(_weigh(bases(self.col_knots, xs), down.T).T)


def fit(ys: Frame, xs: Frame, values: Frame) -> GridSpline:
    """The cubic spline through `values` at the grid points `ys × xs` (increasing)."""
    row_knots, col_knots = not_a_knot(ys), not_a_knot(xs)
    coefficients = np.array(values, dtype=np.float64, order="C")  # a copy: solved in place
    _solve_banded(basis_matrix(row_knots, ys), coefficients)  # down the columns
    _solve_banded(basis_matrix(col_knots, xs), coefficients.T)  # along the rows
    return GridSpline(row_knots, col_knots, coefficients)


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


def _weigh(basis: Bases, coefficients: Frame) -> Frame:
    """Row p: the rows of `coefficients` weighted by the four B-splines non-zero at point p."""
    first, weights = basis
    rows = coefficients[first[:, None] + np.arange(CUBIC_POINTS)]
    return (weights[:, :, None] * rows).sum(axis=1)  # type: ignore[no-any-return]


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


@numba.njit(cache=True)
def _solve_banded(matrix: Frame, rhs: Frame) -> None:  # pragma: no cover - compiled
    """`rhs` ← matrix⁻¹·rhs in place (`matrix` is overwritten), for a collocation matrix: its
    rows reach `BAND` columns from the diagonal, and it is totally positive, so Gaussian
    elimination needs no pivoting (de Boor) and never fills in beyond the band."""
    n, width = matrix.shape[0], rhs.shape[1]
    for k in range(n):
        for i in range(k + 1, min(k + BAND + 1, n)):
            factor = matrix[i, k] / matrix[k, k]
            for j in range(k, min(k + BAND + 1, n)):
                matrix[i, j] -= factor * matrix[k, j]
            for c in range(width):
                rhs[i, c] -= factor * rhs[k, c]
    for k in range(n - 1, -1, -1):
        for j in range(k + 1, min(k + BAND + 1, n)):
            for c in range(width):
                rhs[k, c] -= matrix[k, j] * rhs[j, c]
        for c in range(width):
            rhs[k, c] /= matrix[k, k]
