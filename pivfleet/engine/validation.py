"""Local median tests on a pass's field, compiled: OpenPIV's plain median test (the fast
engine's; OpenPIV's takes a `nanmedian` over a stacked view of every neighbourhood) and
Westerweel & Scarano's (2005) normalised median test (both engines).

The normalised test divides a vector's residual from its neighbours' median by the median
residual of those neighbours plus ε (`median_epsilon`, the correlation's noise floor, ~0.1
px): the same threshold (W&S: 2) then suits a calm region and a steep vortex core, and a
field measured from 8- or 16-bit frames alike. Unlike OpenPIV's `local_norm_median_val`, the
centre vector is left out of its neighbours' median (as W&S define it) and ε is a setting."""

from __future__ import annotations

import numba
import numpy as np

from pivfleet.core.imaging import Frame
from pivfleet.core.spec import PivSettings
from pivfleet.engine.kernel import Flags


def median_flags(u: Frame, v: Frame, piv: PivSettings) -> Flags:
    """Vectors the local median test (`median_normalized`: the normalised one) rejects."""
    flags = np.zeros(u.shape, np.bool_)
    if piv.median_normalized:
        _normalized(u, v, piv.median_size, piv.median_threshold, piv.median_epsilon, flags)
    else:
        _plain(u, v, piv.median_size, piv.median_threshold, flags)
    return flags


@numba.njit(cache=True)
def _plain(
    u: Frame, v: Frame, size: int, threshold: float, flags: Flags
) -> None:  # pragma: no cover
    """|vector - median of its neighbourhood, itself included| > threshold in u or v."""
    scratch = np.empty((2 * size + 1) ** 2)
    for r in range(u.shape[0]):
        for c in range(u.shape[1]):
            um = _median(_gather(u, (r, c), size, True, scratch))
            vm = _median(_gather(v, (r, c), size, True, scratch))
            flags[r, c] = abs(u[r, c] - um) > threshold or abs(v[r, c] - vm) > threshold


@numba.njit(cache=True)
def _normalized(  # noqa: PLR0913 - a compiled loop takes its arguments one by one
    u: Frame, v: Frame, size: int, threshold: float, epsilon: float, flags: Flags
) -> None:  # pragma: no cover - compiled
    """√(r_u² + r_v²) > threshold, r = |x₀ - median(xᵢ)| / (median|xᵢ - median(xᵢ)| + ε)
    over the neighbours xᵢ (the centre left out)."""
    scratch = np.empty((2 * size + 1) ** 2)
    for r in range(u.shape[0]):
        for c in range(u.shape[1]):
            ru = _residual(u, (r, c), size, epsilon, scratch)
            rv = _residual(v, (r, c), size, epsilon, scratch)
            flags[r, c] = ru * ru + rv * rv > threshold * threshold


@numba.njit(cache=True)
def _residual(
    field: Frame, at: tuple[int, int], size: int, epsilon: float, scratch: Frame
) -> float:  # pragma: no cover - compiled
    neighbours = _gather(field, at, size, False, scratch)
    centre = _median(neighbours)
    for i in range(neighbours.size):
        neighbours[i] = abs(neighbours[i] - centre)
    return float(abs(field[at] - centre) / (_median(neighbours) + epsilon))


@numba.njit(cache=True)
def _gather(
    field: Frame, at: tuple[int, int], size: int, centre: bool, scratch: Frame
) -> Frame:  # pragma: no cover - compiled
    """The finite values around `at` inside the field (with `at` itself when `centre`)."""
    (r, c), count = at, 0
    for i in range(max(r - size, 0), min(r + size + 1, field.shape[0])):
        for j in range(max(c - size, 0), min(c + size + 1, field.shape[1])):
            if (centre or i != r or j != c) and np.isfinite(field[i, j]):
                scratch[count] = field[i, j]
                count += 1
    return scratch[:count]


@numba.njit(cache=True)
def _median(values: Frame) -> float:  # pragma: no cover - compiled
    """numpy's median (the mean of the middle two of an even count), NaN when empty; sorts
    `values` in place (a neighbourhood is a few values: insertion sort, no allocation)."""
    count = values.size
    if count == 0:
        return np.nan
    for i in range(1, count):
        value, j = values[i], i - 1
        while j >= 0 and values[j] > value:
            values[j + 1] = values[j]
            j -= 1
        values[j + 1] = value
    middle = count // 2
    if count % 2:
        return float(values[middle])
    return float(0.5 * (values[middle - 1] + values[middle]))
