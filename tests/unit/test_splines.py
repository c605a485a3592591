"""The fast engine's cubic interpolating spline against fitpack's (scipy's RectBivariateSpline
with kx=ky=3, s=0, which OpenPIV's windef fits): the same knots, coefficients and values."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.interpolate import RectBivariateSpline

from pivfleet.engine.splines import fit

SAME_RELATIVE = 1e-10
"""Both solve the same collocation systems (fitpack by Givens rotations, ours by LU): they
differ by ~1e-15 of the field's size."""


@pytest.mark.parametrize(
    ("shape", "step"), [((4, 4), 32.0), ((4, 9), 16.0), ((7, 5), 8.0), ((63, 127), 16.0)]
)
def test_the_spline_is_fitpacks_at_and_between_and_beyond_the_points(
    shape: tuple[int, int], step: float
) -> None:
    """On a pass's uniform grid (window centres) with a rough field; evaluated on its points,
    on a finer grid between them, and past its ends (fitpack then holds the end values)."""
    rng = np.random.default_rng(shape[0] * 1000 + shape[1])
    ys, xs = (np.arange(n) * step + step for n in shape)
    values = rng.normal(0.0, 5.0, shape)
    ours, theirs = fit(ys, xs, values), RectBivariateSpline(ys, xs, values, kx=3, ky=3, s=0)
    np.testing.assert_array_equal(ours.row_knots, theirs.tck[0])
    np.testing.assert_array_equal(ours.col_knots, theirs.tck[1])
    scale = np.abs(values).max()
    coefficients = theirs.tck[2].reshape(shape)
    np.testing.assert_allclose(ours.coefficients, coefficients, rtol=0, atol=SAME_RELATIVE * scale)
    finer = [np.linspace(p[0] - step, p[-1] + step, 3 * p.size + 1) for p in (ys, xs)]
    for at in ((ys, xs), finer):
        np.testing.assert_allclose(ours(*at), theirs(*at), rtol=0, atol=SAME_RELATIVE * scale)
    np.testing.assert_allclose(ours(ys, xs), values, rtol=0, atol=SAME_RELATIVE * scale)


def test_fewer_than_four_points_have_no_cubic_spline() -> None:
    with pytest.raises(ValueError, match="4 points"):
        fit(np.arange(3.0), np.arange(5.0), np.zeros((3, 5)))
