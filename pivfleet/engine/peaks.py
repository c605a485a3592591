"""The fast engine's peak search: for each correlation plane, the highest peak, its sub-pixel
position and the signal-to-noise ratio, computed as OpenPIV's vectorised functions
(`vectorized_correlation_to_displacements`, `vectorized_sig2noise_ratio`) compute them, one
plane at a time in a compiled loop instead of a dozen passes over every plane."""

from __future__ import annotations

import math

import numba
import numpy as np
import numpy.typing as npt

Planes = npt.NDArray[np.float32]
Values = npt.NDArray[np.float64]
PEAK_OFFSET = np.float32(1e-7)
"""OpenPIV adds this to every plane before the sub-pixel fit (no log of zero)."""
WEAK_PEAK = 1e-3
"""A peak lower than this has no signal: its s2n is 0, as in OpenPIV."""
SUBPIXEL_METHODS = ("gaussian", "centroid", "parabolic")
GAUSSIAN, CENTROID, PARABOLIC = range(3)
S2N_METHODS = ("peak2peak", "peak2mean", "none")
"""The settings' names, by the code `find_peaks` takes for each."""
PEAK2PEAK, PEAK2MEAN, NO_S2N = range(3)


@numba.njit(cache=True, nogil=True)
def find_peaks(  # noqa: PLR0913 - a compiled loop takes its arrays one by one
    corr: Planes, subpixel: int, s2n_method: int, width: int,
    u: Values, v: Values, s2n: Values,
) -> None:  # pragma: no cover - compiled  # fmt: skip
    """Fill `u` (column shift), `v` (row shift) and `s2n` for each plane of `corr`; a peak on
    the plane's border has no sub-pixel fit (NaN), as in OpenPIV."""
    for k in range(corr.shape[0]):
        plane = corr[k]
        i, j, total = _highest(plane)
        v[k], u[k] = _displacement(plane, i, j, subpixel)
        if s2n_method == NO_S2N:
            s2n[k] = np.nan
        elif s2n_method == PEAK2MEAN:
            s2n[k] = _peak_to_mean(plane, i, j, total)
        else:
            s2n[k] = _peak_to_peak(plane, i, j, width)


@numba.njit(cache=True)
def _highest(plane: Planes) -> tuple[int, int, float]:  # pragma: no cover - compiled
    """The first highest value's position, and the plane's sum."""
    best, at_i, at_j, total = plane[0, 0], 0, 0, 0.0
    for i in range(plane.shape[0]):
        for j in range(plane.shape[1]):
            value = plane[i, j]
            total += value
            if value > best:
                best, at_i, at_j = value, i, j
    return at_i, at_j, total


@numba.njit(cache=True)
def _second_highest(
    plane: Planes, row: int, col: int, width: int
) -> tuple[int, int]:  # pragma: no cover
    """The first highest value's position outside the box of half-size `width` around
    (row, col); (-1, -1) when the box covers the plane."""
    best, at_i, at_j = -np.inf, -1, -1
    for i in range(plane.shape[0]):
        near = abs(i - row) <= width
        for j in range(plane.shape[1]):
            if near and abs(j - col) <= width:
                continue
            if plane[i, j] > best:
                best, at_i, at_j = plane[i, j], i, j
    return at_i, at_j


@numba.njit(cache=True, error_model="numpy")
def _displacement(
    plane: Planes, i: int, j: int, subpixel: int
) -> tuple[float, float]:  # pragma: no cover
    """Row and column shift of the peak at (i, j) from the plane's centre."""
    rows, cols = plane.shape
    if i < 1 or i > rows - 2 or j < 1 or j > cols - 2:
        return np.nan, np.nan
    c = plane[i, j] + PEAK_OFFSET
    up, down = plane[i - 1, j] + PEAK_OFFSET, plane[i + 1, j] + PEAK_OFFSET
    left, right = plane[i, j - 1] + PEAK_OFFSET, plane[i, j + 1] + PEAK_OFFSET
    if subpixel == CENTROID:
        di = ((i - 1) * up + i * c + (i + 1) * down) / (up + c + down) - i
        dj = ((j - 1) * left + j * c + (j + 1) * right) / (left + c + right) - j
    elif subpixel == GAUSSIAN and min(c, up, down, left, right) > 0:
        di, dj = _gaussian(up, c, down), _gaussian(left, c, right)
    else:  # parabolic, and OpenPIV's fallback for a Gaussian fit of non-positive values
        di = (up - down) / (2 * up - 4 * c + 2 * down)
        dj = (left - right) / (2 * left - 4 * c + 2 * right)
    return i + di - rows // 2, j + dj - cols // 2


@numba.njit(cache=True, error_model="numpy")
def _gaussian(low: float, centre: float, high: float) -> float:  # pragma: no cover - compiled
    low, centre, high = math.log(low), math.log(centre), math.log(high)
    denominator = 2 * low - 4 * centre + 2 * high
    return (low - high) / denominator if denominator != 0 else 0.0


@numba.njit(cache=True)
def _on_border(plane: Planes, i: int, j: int) -> bool:  # pragma: no cover - compiled
    return i <= 0 or j <= 0 or i == plane.shape[0] - 1 or j == plane.shape[1] - 1


@numba.njit(cache=True)
def _peak_to_mean(plane: Planes, i: int, j: int, total: float) -> float:  # pragma: no cover
    peak = plane[i, j]
    mean = abs(total / plane.size)
    if peak < WEAK_PEAK or _on_border(plane, i, j) or mean <= 0:
        return 0.0
    return float(peak / mean)


@numba.njit(cache=True)
def _peak_to_peak(plane: Planes, i: int, j: int, width: int) -> float:  # pragma: no cover
    """The highest peak over the highest outside the box of half-size `width` around it."""
    peak = plane[i, j]
    i2, j2 = _second_highest(plane, i, j, width)
    if i2 < 0:
        return 0.0
    second = plane[i2, j2]
    if (
        peak < WEAK_PEAK
        or second < WEAK_PEAK
        or _on_border(plane, i, j)
        or _on_border(plane, i2, j2)
    ):
        return 0.0
    return float(peak / second) if second > 0 else 0.0
