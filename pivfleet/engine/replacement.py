"""The fast engine's outlier replacement: OpenPIV's `replace_nans` (each hole the kernel-
weighted mean of its valid neighbours, repeated until the holes settle), computed at the holes
only. OpenPIV computes every grid point's neighbourhood on every iteration."""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt

from pivfleet.core.imaging import Frame

REPLACEMENT_TOLERANCE = 1e-3
"""`replace_outliers`' default: the mean squared change of the filled values between two
iterations below which they are settled."""


def replace_holes(
    field: Frame, holes: npt.NDArray[np.bool_], method: str, max_iter: int, kernel_size: int
) -> Frame:
    """`field` with `holes` (and its NaNs) filled as `openpiv.filters.replace_outliers` fills
    them (its default tolerance, 1e-3)."""
    filled = np.array(field, dtype=np.float64, copy=True)
    filled[holes] = np.nan
    rows, cols = np.nonzero(np.isnan(filled))
    if rows.size == 0:
        return filled
    kernel = replacement_kernel(method, kernel_size)
    previous = np.zeros(rows.size)
    for _ in range(max_iter):
        new = np.empty(rows.size)
        _means(filled, rows, cols, kernel, new)
        filled[rows, cols] = new
        if np.mean((new - previous) ** 2) < REPLACEMENT_TOLERANCE:
            break
        previous = new
    return filled


def replacement_kernel(method: str, kernel_size: int) -> npt.NDArray[np.int64]:
    """OpenPIV's integer kernel: ones (localmean), a disk of ones, or the truncated inverse
    distance (distance)."""
    side = 2 * kernel_size + 1
    kernel = np.zeros((side, side), dtype=np.int64)
    if method == "localmean":
        return kernel + 1
    xs, ys = np.indices(kernel.shape)
    dist = np.sqrt((ys - kernel_size) ** 2 + (xs - kernel_size) ** 2)
    near = dist <= kernel_size
    if method == "disk":
        kernel[near] = 1
    else:
        kernel[near] = (np.sqrt(2) * kernel_size - dist)[near]
    return kernel


@numba.njit(cache=True)
def _means(
    filled: Frame,
    rows: npt.NDArray[np.intp],
    cols: npt.NDArray[np.intp],
    kernel: npt.NDArray[np.int64],
    out: npt.NDArray[np.float64],
) -> None:  # pragma: no cover - compiled
    """Each hole's kernel-weighted mean of the valid values around it (NaN: none valid), all
    from the field as it was before this iteration."""
    half = kernel.shape[0] // 2
    height, width = filled.shape
    for i in range(rows.size):
        total, weight = 0.0, 0
        for a in range(kernel.shape[0]):
            y = rows[i] - half + a
            if y < 0 or y >= height:
                continue
            for b in range(kernel.shape[1]):
                x = cols[i] - half + b
                if x < 0 or x >= width or np.isnan(filled[y, x]):
                    continue
                total += kernel[a, b] * filled[y, x]
                weight += kernel[a, b]
        out[i] = total / weight if weight > 0 else np.nan
