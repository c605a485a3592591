"""The fast engine's parts against OpenPIV's and scipy's: the same deformation and the same
correlation planes, within the rounding of single precision."""

from __future__ import annotations

import numpy as np
import pytest
from openpiv import pyprocess
from scipy import ndimage
from scipy.interpolate import RectBivariateSpline

from pivfleet.core.spec import PivSettings
from pivfleet.engine.correlation import correlate_stacks, window_stack
from pivfleet.engine.deformation import deform_pair
from pivfleet.engine.kernel import PassGrid, Predictor

SHAPE = (97, 131)


SINGLE_PRECISION = 1e-6
"""The fast engine keeps spline coefficients and deformed frames in float32: ~1e-7 of the
frame's range from scipy's float64 values."""


@pytest.mark.parametrize("origin", [(0, 0), (24, 40)])
@pytest.mark.parametrize("largest", [9.0, 40.0])
def test_deforming_a_pair_is_openpivs_spline_field_and_resampling(
    origin: tuple[int, int], largest: float
) -> None:
    """OpenPIV's symmetric deformation: the predictor's cubic spline on every pixel, then
    scipy's cubic resampling of frame A at pixel - d/2 and B at pixel + d/2; on a whole frame
    and on a crop of it, near the edges and past them (displacements up to 9 px), and past the
    coefficients' 12 px of padding (up to 40 px: half of it, 20 px, samples beyond the frame)."""
    rng = np.random.default_rng(1)
    frames = (rng.random(SHAPE) * 4095, rng.random(SHAPE) * 255)
    ys, xs = np.arange(8.0, SHAPE[0] - 8, 16), np.arange(8.0, SHAPE[1] - 8, 16)
    u = largest * np.sin(xs[None, :] / 17.0) * np.cos(ys[:, None] / 13.0) + 0.37
    v = -largest * 7 / 9 * np.cos(ys[:, None] / 13.0) + 0.1 * xs[None, :]
    crop = (slice(origin[0], SHAPE[0]), slice(origin[1], SHAPE[1]))
    pixels = (frames[0][crop], frames[1][crop])
    moved = deform_pair(pixels, Predictor(ys, xs, u, v), origin)
    rows, cols = (np.arange(o, n, dtype=float) for o, n in zip(origin, SHAPE, strict=True))
    dense_u, dense_v = (RectBivariateSpline(ys, xs, f)(rows, cols) for f in (u, v))
    local = np.meshgrid(rows - origin[0], cols - origin[1], indexing="ij")
    for frame, got, sign in zip(pixels, moved, (-0.5, 0.5), strict=True):
        at = (local[0] + sign * dense_v, local[1] + sign * dense_u)
        expected = ndimage.map_coordinates(frame, at, order=3, mode="nearest")
        np.testing.assert_allclose(got, expected, rtol=0, atol=SINGLE_PRECISION * frame.max())


def test_a_crop_deforms_to_the_whole_frames_values_where_its_windows_read() -> None:
    """A pass's crop holds 12 px and half the predictor's reach beyond its windows: there the
    crop's deformed pixels are the whole frame's, bit for bit (each spline coefficient is made
    of the pixels `REACH_PIXELS` around it, never of the crop's edges)."""
    import math

    from pivfleet.core.spec import STENCIL_PIXELS
    from pivfleet.engine.rounds import predictor_reach

    rng = np.random.default_rng(6)
    frames = (rng.random(SHAPE) * 4095, rng.random(SHAPE) * 255)
    ys, xs = np.arange(8.0, SHAPE[0] - 8, 16), np.arange(8.0, SHAPE[1] - 8, 16)
    # Nearly uniform and large: samples land as near the crop's edges as a pass's may.
    u = 9.5 + 0.3 * np.sin(xs[None, :] / 17.0) * np.cos(ys[:, None] / 13.0)
    v = -7.5 + 0.2 * np.cos(ys[:, None] / 13.0) + 0 * xs[None, :]
    predictor = Predictor(ys, xs, u, v)
    whole = deform_pair(frames, predictor, (0, 0))
    (y0, y1), (x0, x1) = (16, 96), (32, 128)
    moved = deform_pair(tuple(f[y0:y1, x0:x1] for f in frames), predictor, (y0, x0))
    reach = math.ceil(predictor_reach(predictor) / 2) + STENCIL_PIXELS
    inside = (slice(reach, y1 - y0 - reach), slice(reach, x1 - x0 - reach))
    for ours, theirs in zip(moved, whole, strict=True):
        np.testing.assert_array_equal(ours[inside], theirs[y0:y1, x0:x1][inside])


def test_the_predictors_reach_bounds_its_spline_between_grid_points() -> None:
    from pivfleet.engine.rounds import predictor_reach
    from pivfleet.engine.splines import fit

    ys, xs = np.arange(8.0, 200, 16), np.arange(8.0, 300, 16)
    u = np.zeros((ys.size, xs.size))
    u[5, 7], u[6, 7] = 10.0, -10.0  # a sharp pair: the spline overshoots between them
    predictor = Predictor(ys, xs, u, np.zeros_like(u))
    dense = fit(ys, xs, u)(np.arange(200.0), np.arange(300.0))
    assert np.abs(dense).max() > 10.0
    assert predictor_reach(predictor) >= np.abs(dense).max()


def test_a_pairs_spline_coefficients_are_computed_once_and_dropped_with_its_frames() -> None:
    """Every pass after the first resamples the same two frames: their coefficients are kept
    for the next pass (the same arrays), and go when either frame does."""
    import gc

    from pivfleet.engine import deformation

    rng = np.random.default_rng(4)
    frames = (rng.random(SHAPE) * 255, rng.random(SHAPE) * 255)
    first = deformation.pair_coefficients(frames)
    assert all(a is b for a, b in zip(first, deformation.pair_coefficients(frames), strict=True))
    expected = deformation.spline_coefficients(frames[1])
    np.testing.assert_array_equal(first[1], expected)
    del frames, first
    gc.collect()
    assert not deformation._COEFFICIENTS


def test_correlating_double_precision_frames_is_correlating_their_single_precision() -> None:
    """A double-precision frame is converted a band of window rows at a time: the vectors are
    those of the frame converted whole."""
    from pivfleet.engine.correlation import CHUNK_BYTES, correlate_windows

    rng = np.random.default_rng(5)
    shape = (8 + 16 * (CHUNK_BYTES // (16 * 16 * 4 * 20)) * 3, 20 * 16 + 24)  # several blocks
    frame_a = rng.random(shape) * 4095
    frame_b = np.roll(frame_a, (2, -3), axis=(0, 1))
    grid, piv = PassGrid(16, 8), PivSettings(engine="fast")
    double = correlate_windows(frame_a, frame_b, grid, piv)
    single = correlate_windows(frame_a.astype(np.float32), frame_b.astype(np.float32), grid, piv)
    for ours, theirs in zip(double, single, strict=True):
        np.testing.assert_array_equal(ours, theirs)
    assert np.median(double[0]) == pytest.approx(-3, abs=0.05)


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


@pytest.mark.parametrize("subpixel", ["gaussian", "centroid", "parabolic"])
@pytest.mark.parametrize("s2n_method", ["peak2peak", "peak2mean"])
def test_peaks_are_openpivs_vectorised_peaks(subpixel: str, s2n_method: str) -> None:
    """Planes with a clear peak, with noise only, with the peak on the border (no sub-pixel
    fit: NaN), with negative neighbours (the Gaussian fit falls back to the parabola) and flat
    (s2n 0)."""
    from pivfleet.engine.peaks import S2N_METHODS, SUBPIXEL_METHODS, find_peaks

    rng = np.random.default_rng(4)
    planes = rng.random((60, 16, 16)).astype(np.float32)
    planes[:40, 7, 9] += 5
    planes[10, 0, 3] = planes[11, 8, 15] = 9
    planes[12:15] -= 0.9
    planes[15] = 0
    u, v, s2n = (np.empty(len(planes)) for _ in range(3))
    find_peaks(
        planes, SUBPIXEL_METHODS.index(subpixel), S2N_METHODS.index(s2n_method), 2, u, v, s2n
    )
    with np.errstate(invalid="ignore", divide="ignore"):  # OpenPIV's logs of the negatives
        expected_u, expected_v = pyprocess.vectorized_correlation_to_displacements(
            planes, subpixel_method=subpixel
        )
        expected_s2n = pyprocess.vectorized_sig2noise_ratio(planes, s2n_method, 2)
    np.testing.assert_allclose(u, expected_u, rtol=0, atol=1e-5, equal_nan=True)
    np.testing.assert_allclose(v, expected_v, rtol=0, atol=1e-5, equal_nan=True)
    np.testing.assert_allclose(s2n, expected_s2n, rtol=1e-5)
    assert np.isnan(u[10]) and np.isnan(v[11]) and s2n[15] == 0
