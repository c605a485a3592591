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
from pivfleet.core.tiling import (
    Tile,
    choose_tile_pixels,
    pass_reach_pixels,
    plan_pass_tiles,
    work_factor,
)
from pivfleet.engine.field import PassField, predict, settle
from pivfleet.engine.kernel import Predictor, correlate_pass, pass_grids
from pivfleet.engine.reference import run_passes
from pivfleet.engine.rounds import (
    local_predictor,
    map_pass,
    next_predictor,
    predictor_reach,
    predictor_window,
    reduce_pass,
    stacked,
)
from tests.synthetic import make_pair, shear, vortex

STENCIL_PX = 12
"""The cubic spline prefilter decays by 0.27 per pixel: 12 px leave under 1e-6 of an edge."""
SAME_VECTOR_PX = 1e-6
"""Both engines: the fast one's spline coefficients are a crop's own where the crop holds their
reach (`engine/deformation.py:REACH_PIXELS`), so tiles deform as the whole frame does (test5
differed by 9.6e-5 px when the prefilter reached the crop's edges); the margin left is for a
window's FFT rounding otherwise in another batch (pocketfft's SIMD lanes)."""


def whole_pass_inputs(frames, piv: PivSettings, index: int) -> Predictor | None:
    """The predictor of pass `index` as a whole-frame run computes it."""
    grids, predictor = pass_grids(piv), None
    for k in range(index):
        field = settle(correlate_pass(frames, grids[k], piv, predictor), piv, k == 0, False)
        predictor = predict(field, grids[k], grids[k + 1], frames[0].shape, piv)
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


def run_pass_synchronous(frames, piv: PivSettings, tile_pixels: int) -> PassField:
    """The rounds the pipeline runs, in one process: each pass mapped over its tiles (crops of
    the pass's windows plus the reach of the actual predictor), then reduced on the whole grid."""
    shape, predictor, last = frames[0].shape, None, len(piv.windows) - 1
    for index in range(last + 1):
        reach = pass_reach_pixels(piv, index, predictor_reach(predictor))
        tiles = plan_pass_tiles(shape, piv, index, tile_pixels, reach)
        blocks = [map_tile(frames, piv, index, tile, predictor) for tile in tiles]
        field = reduce_pass(blocks, piv, index, shape)
        if index < last:
            predictor = next_predictor(field, piv, index, shape)
    return field


def map_tile(frames, piv: PivSettings, index: int, tile: Tile, predictor: Predictor | None):
    """One job as a worker runs it: the crop's pixels, and the predictor's points around it."""
    box, shape = tile.crop, frames[0].shape
    pixels = tuple(frame[box.y0 : box.y1, box.x0 : box.x1] for frame in frames)
    if predictor is not None:
        window = predictor_window(piv, index, shape, box)
        uv = stacked(predictor)[:, window.y0 : window.y1, window.x0 : window.x1]
        predictor = local_predictor(piv, index, window, uv)
    return tile.core, map_pass(pixels, piv, index, tile, predictor)


SYNTHETIC = {
    "shear-16bit-333x517": lambda: make_pair((333, 517), shear(), bits=16, seed=1),
    "vortex-8bit-301x459": lambda: make_pair((301, 459), vortex((150, 230)), bits=8, seed=2),
}


def pair_frames(sample_input: Path, pair: str) -> tuple[np.ndarray, np.ndarray]:
    if pair in SYNTHETIC:
        made = SYNTHETIC[pair]()
        return made.frame_a.astype(float), made.frame_b.astype(float)
    a, b = (read_frame(str(p)) for p in sorted(sample_input.glob(f"{pair}_?.*")))
    return a, b


@pytest.mark.parametrize("engine", ["openpiv", "fast"])
@pytest.mark.parametrize("pair", ["test1", "test2", "test4", "test5", *SYNTHETIC])
def test_pass_synchronous_tiles_equal_the_whole_pair_with_the_std_test_on(
    sample_input: Path, pair: str, engine: str
) -> None:
    """Every vector of every tile size equals the whole-pair run's, the global std test on:
    each pass is validated and replaced on the whole field, as the collector will."""
    frames = pair_frames(sample_input, pair)
    piv = PivSettings(std_threshold=10, engine=engine)
    whole = run_passes(*frames, piv)
    for tile_pixels in (128, 384):
        tiled = run_pass_synchronous(frames, piv, tile_pixels)
        np.testing.assert_allclose(tiled.u, whole.u, rtol=0, atol=SAME_VECTOR_PX)
        np.testing.assert_allclose(tiled.v, whole.v, rtol=0, atol=SAME_VECTOR_PX)
        np.testing.assert_array_equal(tiled.flags.astype(np.int8), whole.flags)


@pytest.mark.parametrize("workers", [2, 16, 64, 1000])
@pytest.mark.parametrize("shape", [(1720, 2304), (6600, 4400)])
def test_pass_tiles_at_the_auto_size_read_little_more_than_the_pair(
    shape: tuple[int, int], workers: int
) -> None:
    """One pair on many workers: each pass's jobs read ≤ 1.25 × the pair's pixels, with the
    largest displacement validation lets through (halo tiles read 1.92 and 2.20 ×)."""
    piv = PivSettings()
    tile_pixels = choose_tile_pixels("auto", shape, 1, workers, synchronous=True)
    assert tile_pixels is not None
    for index in range(len(piv.windows)):
        reach = pass_reach_pixels(piv, index, piv.max_displacement)
        tiles = plan_pass_tiles(shape, piv, index, tile_pixels, reach)
        assert work_factor(tiles, shape) <= 1.25, (index, tile_pixels)
        assert len(tiles) >= min(2 * workers, 6)
