"""The fast engine's correlation: every window of a pass, in single precision.

Windows are strided views of the frame (no copies), their correlations batched real FFTs in
float32, a cache-sized block of window rows at a time; the peak, its sub-pixel position and
the signal-to-noise ratio are OpenPIV's vectorised functions' arithmetic compiled
(`engine/peaks.py`), so every setting means what it means in OpenPIV."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import scipy.fft
from numpy.lib.stride_tricks import sliding_window_view

from pivfleet.core.imaging import Frame, Pixels
from pivfleet.core.spec import PivSettings
from pivfleet.engine.peaks import S2N_METHODS, SUBPIXEL_METHODS, find_peaks
from pivfleet.engine.threads import map_threads

if TYPE_CHECKING:
    from pivfleet.engine.kernel import PassGrid

Stack = npt.NDArray[np.float32]
CHUNK_BYTES = 1 << 20
"""Window pixels correlated at once (single precision): a block that stays in the cache."""


def window_stack(frame: Pixels, grid: PassGrid) -> Stack:
    """Every window of `grid` in `frame`: `(rows, cols, window, window)`, a view."""
    single = frame.astype(np.float32, copy=False)
    view = sliding_window_view(single, (grid.window, grid.window))
    return view[:: grid.step, :: grid.step]


def correlate_stacks(a: Stack, b: Stack, piv: PivSettings) -> Stack:
    """The cross-correlation of each pair of windows, zero displacement at the centre, as
    OpenPIV's `fft_correlate_images` computes it (circular or linear, normalised or not)."""
    if piv.normalized_correlation:
        a, b = normalize(a), normalize(b)
    window = a.shape[-2:]
    size = window
    if piv.correlation_method == "linear":
        size = tuple(int(2 ** np.ceil(np.log2(2 * n - 1))) for n in window)
    # One worker: `correlate_windows` spreads blocks over the engine's threads instead.
    spectrum_a = scipy.fft.rfft2(a, size, axes=(-2, -1), workers=1)
    spectrum_b = scipy.fft.rfft2(b, size, axes=(-2, -1), workers=1)
    np.conjugate(spectrum_a, out=spectrum_a)
    spectrum_a *= spectrum_b
    # Zero displacement at the centre: for even sizes, moving the plane by half of it
    # (fftshift) is flipping the sign of every other frequency, nearly free here.
    even = all(n % 2 == 0 for n in size)
    if even:
        spectrum_a *= centring_signs(size)
    corr = scipy.fft.irfft2(spectrum_a, size, axes=(-2, -1), workers=1)
    if not even:
        corr = scipy.fft.fftshift(corr, axes=(-2, -1))
    if piv.correlation_method == "linear":
        top, left = (s // 2 - n // 2 for s, n in zip(size, window, strict=True))
        corr = corr[..., top : top + window[0], left : left + window[1]]
    if piv.normalized_correlation:
        corr /= window[0] * window[1]
    return corr  # type: ignore[no-any-return]


@functools.cache
def centring_signs(size: tuple[int, ...]) -> npt.NDArray[np.float32]:
    """(-1)^(ky + kx) on a real FFT's half spectrum of `size`."""
    rows, cols = np.arange(size[0]), np.arange(size[1] // 2 + 1)
    return np.where((rows[:, None] + cols[None, :]) % 2, -1.0, 1.0).astype(np.float32)


def normalize(stack: Stack) -> Stack:
    """Each window minus its mean, over its standard deviation (a flat window stays 0)."""
    centred = stack - stack.mean(axis=(-2, -1), keepdims=True, dtype=np.float64)
    spread = centred.std(axis=(-2, -1), keepdims=True)
    out = np.zeros_like(centred, dtype=np.float32)
    return np.divide(centred, spread, out=out, where=spread != 0)  # type: ignore[no-any-return]


def correlate_windows(
    frame_a: Pixels, frame_b: Pixels, grid: PassGrid, piv: PivSettings
) -> tuple[Frame, Frame, Frame]:
    """u, v (OpenPIV's signs: v positive down the frame, as its `extended_search_area_piv`
    returns it) and s2n of every window of `grid`, a block of window rows at a time (each
    block's planes stay in the cache from the FFT to the peak search), blocks on
    `thread_count()` threads."""
    rows, cols = grid.shape(frame_a.shape)
    u, v, s2n = (np.empty((rows, cols)) for _ in range(3))
    block = block_rows(grid, cols)
    s2n_method = S2N_METHODS.index(piv.sig2noise_method if piv.sig2noise_validate else "none")

    def correlate_block(first: int) -> None:
        part = slice(first, min(first + block, rows))
        windows = (band_windows(frame_a, grid, part), band_windows(frame_b, grid, part))
        corr = correlate_stacks(*windows, piv)
        find_peaks(
            corr.reshape(-1, *corr.shape[-2:]), SUBPIXEL_METHODS.index(piv.subpixel_method),
            s2n_method, piv.sig2noise_mask,
            u[part].reshape(-1), v[part].reshape(-1), s2n[part].reshape(-1),
        )  # fmt: skip

    map_threads(correlate_block, range(0, rows, block))
    return u, v, s2n


def block_rows(grid: PassGrid, cols: int) -> int:
    """Window rows correlated at once: `CHUNK_BYTES` of single-precision windows, or one row."""
    return max(1, CHUNK_BYTES // max(1, cols * grid.window * grid.window * 4))


def band_windows(frame: Pixels, grid: PassGrid, window_rows: slice) -> Stack:
    """The windows of rows `window_rows` of `grid`, from the band of frame rows they cover in
    single precision: a double-precision frame is converted a band at a time, never whole."""
    top = window_rows.start * grid.step
    bottom = (window_rows.stop - 1) * grid.step + grid.window
    return window_stack(frame[top:bottom], grid)
