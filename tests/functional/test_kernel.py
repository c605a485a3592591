"""The per-pass kernel's contract, which pass-synchronous tiles rest on: a crop holding a
block's windows plus a small margin (half the predictor and the interpolation stencil, nothing
for outlier replacement) gives the block the very vectors the whole frame gives it."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from pivfleet.core.imaging import read_frame
from pivfleet.core.spec import PivSettings
from pivfleet.engine.field import predict, settle
from pivfleet.engine.kernel import Predictor, correlate_pass, pass_grids
from pivfleet.engine.reference import run_passes

STENCIL_PX = 12
"""The cubic spline prefilter decays by 0.27 per pixel: 12 px leave under 1e-6 of an edge."""
SAME_VECTOR_PX = 1e-6


def whole_pass_inputs(frames, piv: PivSettings, index: int) -> Predictor | None:
    """The predictor of pass `index` as a whole-frame run computes it."""
    grids, predictor = pass_grids(piv), None
    for k in range(index):
        field = settle(correlate_pass(frames, grids[k], piv, predictor), piv, k == 0, False)
        predictor = predict(field, grids[k], grids[k + 1], frames[0].shape)
    return predictor


@pytest.mark.parametrize("index", [0, 1, 2])
@pytest.mark.parametrize("block", [(0, 0, 7, 9), (5, 11, 12, 20), (9, 17, 40, 60)])
def test_a_crop_gives_its_block_the_whole_frames_vectors(
    sample_input: Path, index: int, block: tuple[int, int, int, int]
) -> None:
    frames = tuple(read_frame(str(sample_input / f"test1_{c}.bmp")) for c in "ab")
    piv = PivSettings()
    grid, predictor = pass_grids(piv)[index], whole_pass_inputs(frames, piv, index)
    whole = correlate_pass(frames, grid, piv, predictor)
    rows, cols = grid.shape(frames[0].shape)
    r0, c0 = min(block[0], rows - 1), min(block[1], cols - 1)
    r1, c1 = min(block[2], rows), min(block[3], cols)
    reach = STENCIL_PX
    if predictor is not None:
        reach += math.ceil(max(np.abs(predictor.u).max(), np.abs(predictor.v).max()) / 2)
    y0 = max(0, r0 * grid.step - reach) // grid.step * grid.step
    x0 = max(0, c0 * grid.step - reach) // grid.step * grid.step
    y1 = min(frames[0].shape[0], (r1 - 1) * grid.step + grid.window + reach)
    x1 = min(frames[0].shape[1], (c1 - 1) * grid.step + grid.window + reach)
    crop = tuple(f[y0:y1, x0:x1] for f in frames)
    raw = correlate_pass(crop, grid, piv, predictor, origin=(y0, x0))
    core = (slice(r0 - y0 // grid.step, r1 - y0 // grid.step),
            slice(c0 - x0 // grid.step, c1 - x0 // grid.step))  # fmt: skip
    for name in ("u", "v", "s2n"):
        got, want = getattr(raw, name)[core], getattr(whole, name)[r0:r1, c0:c1]
        np.testing.assert_allclose(got, want, rtol=0, atol=SAME_VECTOR_PX, equal_nan=True)


def test_the_whole_pair_engine_is_the_kernel_and_the_global_steps(sample_input: Path) -> None:
    frames = tuple(read_frame(str(sample_input / f"test1_{c}.bmp")) for c in "ab")
    piv = PivSettings()
    grids = pass_grids(piv)
    predictor = whole_pass_inputs(frames, piv, 2)
    field = settle(correlate_pass(frames, grids[2], piv, predictor), piv, False, True)
    vectors = run_passes(*frames, piv)
    np.testing.assert_array_equal(vectors.u, field.u)
    np.testing.assert_array_equal(vectors.flags, field.flags.astype(np.int8))
