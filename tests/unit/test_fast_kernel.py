"""The fast engine's parts against OpenPIV's and scipy's: the same deformation and the same
correlation planes, within the rounding of single precision."""

from __future__ import annotations

import numpy as np
import pytest
from openpiv import pyprocess
from scipy import ndimage

from pivfleet.core.spec import PivSettings
from pivfleet.engine.correlation import correlate_stacks, window_stack
from pivfleet.engine.deformation import shift_frame
from pivfleet.engine.kernel import PassGrid

SHAPE = (97, 131)


@pytest.mark.parametrize("sign", [-0.5, 0.5])
def test_shifting_a_frame_is_scipys_cubic_spline_resampling(sign: float) -> None:
    """Including near the edges and past them (displacements up to 9 px), where scipy's
    "nearest" mode pads the frame."""
    rng = np.random.default_rng(1)
    frame = rng.random(SHAPE) * 4095
    rows, cols = np.meshgrid(*(np.arange(n, dtype=float) for n in SHAPE), indexing="ij")
    dy, dx = 9 * np.sin(cols / 17.0), -7 * np.cos(rows / 13.0) + 0.37
    moved = shift_frame(frame, dy, dx, sign)
    expected = ndimage.map_coordinates(
        frame, (rows + sign * dy, cols + sign * dx), order=3, mode="nearest"
    )
    np.testing.assert_allclose(moved, expected, rtol=0, atol=1e-8)


@pytest.mark.parametrize("method", ["circular", "linear"])
@pytest.mark.parametrize("normalized", [False, True])
def test_correlation_planes_are_openpivs(method: str, normalized: bool) -> None:
    rng = np.random.default_rng(2)
    frame_a, frame_b = rng.random(SHAPE) * 255, rng.random(SHAPE) * 255
    grid = PassGrid(32, 16)
    piv = PivSettings(correlation_method=method, normalized_correlation=normalized)  # type: ignore[arg-type]
    ours = correlate_stacks(window_stack(frame_a, grid), window_stack(frame_b, grid), piv)
    windows = [pyprocess.sliding_window_array(f, (32, 32), (16, 16)) for f in (frame_a, frame_b)]
    theirs = pyprocess.fft_correlate_images(
        *windows, correlation_method=method, normalized_correlation=normalized
    )
    ours = ours.reshape(theirs.shape)
    scale = np.abs(theirs).max()
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5 * scale)


@pytest.mark.parametrize("method", ["localmean", "disk", "distance"])
@pytest.mark.parametrize("kernel_size", [1, 2])
def test_replacing_holes_is_openpivs_replace_outliers(method: str, kernel_size: int) -> None:
    """Scattered outliers, a block of them (filled over several iterations), NaNs from a failed
    job, and the field's edges."""
    from openpiv import filters

    from pivfleet.engine.replacement import replace_holes

    rng = np.random.default_rng(3)
    u, v = rng.normal(0, 2, (41, 57)), rng.normal(0, 2, (41, 57))
    holes = rng.random(u.shape) < 0.1
    holes[10:16, 20:27] = True
    holes[0, :5] = holes[-1, -5:] = True
    u[30:33, 40:44] = v[30:33, 40:44] = np.nan
    theirs = filters.replace_outliers(
        np.ma.masked_array(u, mask=False), np.ma.masked_array(v, mask=False), holes,
        method=method, max_iter=4, kernel_size=kernel_size,
    )  # fmt: skip
    for ours, expected in zip((u, v), theirs, strict=True):
        got = replace_holes(ours, holes, method, 4, kernel_size)
        np.testing.assert_allclose(got, np.asarray(expected), rtol=0, atol=1e-12, equal_nan=True)
