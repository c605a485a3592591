"""The local median tests: the plain one is OpenPIV's, the normalised one is Westerweel &
Scarano's (2005) and finds outliers in a steep vortex that no plain threshold separates."""

from __future__ import annotations

import numpy as np
import pytest
from openpiv import validation

from pivfleet.core.spec import PivSettings
from pivfleet.engine.validation import median_flags


def field_with_holes(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    u, v = rng.normal(0, 1.5, (23, 31)), rng.normal(0, 1.5, (23, 31))
    u[4, 5] = v[10, 0] = u[0, 0] = np.nan
    u[15:18, 20:23] = np.nan
    return u, v


@pytest.mark.filterwarnings("ignore:All-NaN slice")  # OpenPIV's, around a hole
@pytest.mark.parametrize("size", [1, 2])
def test_the_plain_median_test_is_openpivs(size: int) -> None:
    u, v = field_with_holes(1)
    piv = PivSettings(median_threshold=1.2, median_size=size)
    expected = validation.local_median_val(u, v, 1.2, 1.2, size=size)
    np.testing.assert_array_equal(median_flags(u, v, piv), expected)


def normalized_residuals(field: np.ndarray, epsilon: float) -> np.ndarray:
    """W&S's r₀* written out point by point: neighbours (not the centre) inside the field."""
    out = np.full(field.shape, np.nan)
    for r, c in np.ndindex(field.shape):
        block = field[max(r - 1, 0) : r + 2, max(c - 1, 0) : c + 2].astype(float)
        block[r - max(r - 1, 0), c - max(c - 1, 0)] = np.nan
        neighbours = block[np.isfinite(block)]
        if neighbours.size:
            centre = np.median(neighbours)
            spread = np.median(np.abs(neighbours - centre))
            out[r, c] = abs(field[r, c] - centre) / (spread + epsilon)
    return out


def test_the_normalized_median_test_is_westerweel_and_scaranos() -> None:
    u, v = field_with_holes(2)
    piv = PivSettings(median_normalized=True, median_threshold=2.0, median_epsilon=0.1)
    residual = np.hypot(normalized_residuals(u, 0.1), normalized_residuals(v, 0.1))
    np.testing.assert_array_equal(median_flags(u, v, piv), residual > 2.0)


OUTLIERS = [(2, 30), (10, 10), (30, 5), (35, 35), (25, 12), (15, 33)]
FEW_FALSE_POSITIVES = 2
"""Of 1,681 vectors with 0.05 px noise (0.1 %)."""


def vortex_field(peak_px: float) -> tuple[np.ndarray, np.ndarray]:
    """A Lamb-Oseen vortex on a 41 × 41 grid (core radius 3 points) peaking near `peak_px`,
    0.05 px noise, and (1.0, -0.5) px outliers at OUTLIERS."""
    y, x = np.mgrid[-20:21, -20:21].astype(float)
    r2 = np.maximum(x * x + y * y, 1e-9)
    speed_over_r = peak_px * 4.7 * (1 - np.exp(-r2 / 9)) / r2
    rng = np.random.default_rng(3)
    u = -y * speed_over_r + rng.normal(0, 0.05, r2.shape)
    v = x * speed_over_r + rng.normal(0, 0.05, r2.shape)
    for at in OUTLIERS:
        u[at] += 1.0
        v[at] -= 0.5
    return u, v


def test_one_normalized_threshold_suits_a_calm_and_a_steep_field_where_no_plain_one_does() -> None:
    """Westerweel & Scarano's point: the plain test's threshold is in pixels, so the one that
    catches 1 px outliers in a calm flow rejects good vectors where neighbours differ by more
    (a vortex core); the normalised test's threshold 2 catches them in both."""
    outliers = np.zeros((41, 41), bool)
    outliers[tuple(np.array(OUTLIERS).T)] = True
    calm, steep = vortex_field(0.6), vortex_field(12.0)
    normalized = PivSettings(median_normalized=True, median_threshold=2.0)
    for u, v in (calm, steep):
        flags = median_flags(u, v, normalized)
        assert flags[outliers].all() and (flags & ~outliers).sum() <= FEW_FALSE_POSITIVES
    for threshold in np.arange(0.1, 3.0, 0.1):
        piv = PivSettings(median_threshold=float(threshold))
        flags = [median_flags(u, v, piv) for u, v in (calm, steep)]
        catches = all(f[outliers].all() for f in flags)
        assert not catches or (flags[1] & ~outliers).sum() > FEW_FALSE_POSITIVES, threshold
