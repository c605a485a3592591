"""Properties of the tile planner: crops on the global grid of every pass, cores that partition."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pivfleet.core.spec import PivSettings
from pivfleet.core.tiling import (
    MIN_AUTO_TILE_PIXELS,
    Tile,
    choose_tile_pixels,
    grid_shape,
    halo_pixels,
    plan_tiles,
    split_evenly,
)

WINDOW_CHOICES = (128, 96, 64, 48, 32, 24, 16, 12, 8)


@st.composite
def piv_settings(draw: st.DrawFn) -> PivSettings:
    """A valid schedule: 1–4 passes of non-increasing windows, overlaps in [0, window)."""
    passes = draw(st.integers(1, 4))
    windows = sorted(
        draw(st.lists(st.sampled_from(WINDOW_CHOICES), min_size=passes, max_size=passes)),
        reverse=True,
    )
    overlaps = [draw(st.integers(0, w - 1)) for w in windows]
    displacement = draw(st.sampled_from((5.0, 16.0, 30.0, 64.5)))
    return PivSettings(
        windows=tuple(windows),
        overlaps=tuple(overlaps),
        min_max_u_disp=(-displacement, displacement),
        min_max_v_disp=(-displacement / 2, displacement / 2),
        max_filter_iteration=draw(st.integers(1, 6)),
        filter_kernel_size=draw(st.integers(1, 3)),
    )


@st.composite
def planning_cases(draw: st.DrawFn) -> tuple[tuple[int, int], PivSettings, int | None]:
    piv = draw(piv_settings())
    first = piv.windows[0]
    shape = (draw(st.integers(max(64, first), 3000)), draw(st.integers(max(64, first), 3000)))
    tile_pixels = draw(st.none() | st.integers(32, 2000))
    return shape, piv, tile_pixels


PROPERTY_SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def core_pixel_span(first: int, last: int, piv: PivSettings) -> tuple[int, int]:
    """Pixels the final-pass windows of grid cells [first, last) cover."""
    step, window = piv.steps[-1], piv.windows[-1]
    return first * step, (last - 1) * step + window


@PROPERTY_SETTINGS
@given(planning_cases())
def test_cores_partition_the_global_final_grid(
    case: tuple[tuple[int, int], PivSettings, int | None],
) -> None:
    shape, piv, tile_pixels = case
    tiles = plan_tiles(shape, piv, tile_pixels)
    rows, cols = grid_shape(shape, piv.windows[-1], piv.steps[-1])
    assert rows >= 1 and cols >= 1
    covered = np.zeros((rows, cols), dtype=np.int64)
    for tile in tiles:
        core = tile.core
        assert 0 <= core.y0 < core.y1 <= rows
        assert 0 <= core.x0 < core.x1 <= cols
        covered[core.y0 : core.y1, core.x0 : core.x1] += 1
    assert (covered == 1).all(), f"cells covered {covered.min()}..{covered.max()} times"
    assert [tile.index for tile in tiles] == list(range(len(tiles)))


@PROPERTY_SETTINGS
@given(planning_cases())
def test_crops_lie_inside_the_image_and_on_every_pass_grid(
    case: tuple[tuple[int, int], PivSettings, int | None],
) -> None:
    shape, piv, tile_pixels = case
    height, width = shape
    for tile in plan_tiles(shape, piv, tile_pixels):
        crop = tile.crop
        assert 0 <= crop.y0 < crop.y1 <= height
        assert 0 <= crop.x0 < crop.x1 <= width
        assert crop.y0 % piv.grid_alignment == 0
        assert crop.x0 % piv.grid_alignment == 0
        for k, step in enumerate(piv.steps):
            # pass k's windows in the crop start at crop origin + i*step: global pass-k windows
            assert crop.y0 % step == 0, f"pass {k}: crop.y0={crop.y0} off the step-{step} grid"
            assert crop.x0 % step == 0, f"pass {k}: crop.x0={crop.x0} off the step-{step} grid"
        # every crop holds at least one first-pass window, so windef can run on it
        assert min(crop.shape) >= piv.windows[0]


@PROPERTY_SETTINGS
@given(planning_cases())
def test_core_windows_lie_inside_their_crop_with_the_halo(
    case: tuple[tuple[int, int], PivSettings, int | None],
) -> None:
    shape, piv, tile_pixels = case
    height, width = shape
    halo = halo_pixels(piv)
    step, window = piv.steps[-1], piv.windows[-1]
    for tile in plan_tiles(shape, piv, tile_pixels):
        crop, core = tile.crop, tile.core
        # every core cell's final-pass window inside the crop
        for row in (core.y0, core.y1 - 1):
            assert crop.y0 <= row * step and row * step + window <= crop.y1
        for col in (core.x0, core.x1 - 1):
            assert crop.x0 <= col * step and col * step + window <= crop.x1
        # the halo around the core, unless the image border clips it
        core_y0, core_y1 = core_pixel_span(core.y0, core.y1, piv)
        core_x0, core_x1 = core_pixel_span(core.x0, core.x1, piv)
        assert crop.y0 <= max(0, core_y0 - halo)
        assert crop.y1 >= min(height, core_y1 + halo)
        assert crop.x0 <= max(0, core_x0 - halo)
        assert crop.x1 >= min(width, core_x1 + halo)


@PROPERTY_SETTINGS
@given(planning_cases())
def test_crop_grid_contains_the_core_at_the_right_offset(
    case: tuple[tuple[int, int], PivSettings, int | None],
) -> None:
    """The crop's own final-pass grid, as OpenPIV lays it out, contains the core cells."""
    shape, piv, tile_pixels = case
    step, window = piv.steps[-1], piv.windows[-1]
    for tile in plan_tiles(shape, piv, tile_pixels):
        crop_rows, crop_cols = grid_shape(tile.crop.shape, window, step)
        row_offset, col_offset = tile.crop.y0 // step, tile.crop.x0 // step
        assert tile.core.y0 - row_offset >= 0 and tile.core.y1 - row_offset <= crop_rows
        assert tile.core.x0 - col_offset >= 0 and tile.core.x1 - col_offset <= crop_cols


@pytest.mark.parametrize("shape", [(64, 64), (511, 769), (2048, 2448), (3000, 97)])
def test_no_tiling_gives_one_tile_covering_the_whole_image(shape: tuple[int, int]) -> None:
    piv = PivSettings()
    tiles = plan_tiles(shape, piv, None)
    rows, cols = grid_shape(shape, piv.windows[-1], piv.steps[-1])
    assert len(tiles) == 1
    (tile,) = tiles
    assert tile == Tile(
        index=0,
        crop={"y0": 0, "y1": shape[0], "x0": 0, "x1": shape[1]},
        core={"y0": 0, "y1": rows, "x0": 0, "x1": cols},
    )


def test_small_tiles_split_a_large_image_into_many() -> None:
    piv = PivSettings()
    tiles = plan_tiles((2048, 2048), piv, 256)
    # 255 final-pass rows/cols at step 8, in blocks of about 32 cells: 8 × 8 tiles
    assert len(tiles) == 64
    assert all(tile.crop.shape != (2048, 2048) for tile in tiles)


def test_grid_shape_matches_openpiv_field_shape() -> None:
    from openpiv.pyprocess import get_field_shape

    for shape, window, overlap in [((512, 640), 32, 16), ((100, 77), 16, 8), ((64, 64), 64, 0)]:
        expected = tuple(get_field_shape(shape, window, overlap))
        assert grid_shape(shape, window, window - overlap) == expected


def test_grid_shape_of_an_image_smaller_than_the_window_is_empty() -> None:
    assert grid_shape((10, 100), 16, 8) == (0, 11)


@pytest.mark.parametrize(("count", "chunk"), [(1, 5), (10, 3), (255, 32), (7, 7), (100, 1)])
def test_split_evenly_covers_the_range_in_near_equal_spans(count: int, chunk: int) -> None:
    spans = split_evenly(count, chunk)
    assert spans[0][0] == 0 and spans[-1][1] == count
    assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))
    sizes = [b - a for a, b in spans]
    assert max(sizes) - min(sizes) <= 1
    assert max(sizes) <= chunk


def test_halo_covers_two_first_pass_windows_reach_and_displacement() -> None:
    piv = PivSettings(windows=(64, 32, 16), overlaps=(32, 16, 8))
    # first pass: 5 iterations × kernel 1 × step 32 = 160; later: 4 × 2 × 16 = 128
    assert halo_pixels(piv) == 160 + 64 + 30


def test_choose_none_tiling_is_none() -> None:
    assert choose_tile_pixels("none", (8000, 8000), pairs=1, workers=64) is None


@pytest.mark.parametrize("pixels", [32, 256, 4096])
def test_choose_passes_explicit_sizes_through(pixels: int) -> None:
    assert choose_tile_pixels(pixels, (2048, 2048), pairs=1000, workers=1) == pixels


@pytest.mark.parametrize(("pairs", "workers"), [(2, 1), (32, 16), (1000, 16), (8, 4)])
def test_auto_uses_whole_pairs_when_pairs_are_plenty(pairs: int, workers: int) -> None:
    assert choose_tile_pixels("auto", (6000, 4000), pairs=pairs, workers=workers) is None


@pytest.mark.parametrize(
    ("shape", "pairs", "workers"),
    [((6000, 4000), 1, 16), ((6576, 4384), 3, 8), ((5120, 5120), 31, 16), ((4000, 3000), 1, 2)],
)
def test_auto_tiles_when_workers_would_idle(
    shape: tuple[int, int], pairs: int, workers: int
) -> None:
    pixels = choose_tile_pixels("auto", shape, pairs=pairs, workers=workers)
    assert isinstance(pixels, int)
    assert MIN_AUTO_TILE_PIXELS <= pixels < max(shape)
    tiles = plan_tiles(shape, PivSettings(), pixels)
    assert len(tiles) > 1


def test_auto_keeps_whole_pairs_when_the_image_is_smaller_than_a_minimum_tile() -> None:
    # one small pair and many workers: cutting below MIN_AUTO_TILE_PIXELS would be mostly halo
    assert choose_tile_pixels("auto", (512, 512), pairs=1, workers=64) is None


@pytest.mark.parametrize("declared", [0, 100, 300])
def test_an_algorithms_own_halo_widens_the_crops_never_the_cores(declared: int) -> None:
    """A spec's haloPixels above pivfleet's halo reaches that far; below it changes nothing."""
    piv, shape = PivSettings(windows=(32,), overlaps=(16,)), (1024, 1536)
    own = halo_pixels(piv)
    tiles = plan_tiles(shape, piv, 256, min_halo_px=declared)
    assert [t.core for t in tiles] == [t.core for t in plan_tiles(shape, piv, 256)]
    halo = max(own, declared)
    for tile in tiles:
        core_y0, core_y1 = core_pixel_span(tile.core.y0, tile.core.y1, piv)
        core_x0, core_x1 = core_pixel_span(tile.core.x0, tile.core.x1, piv)
        assert tile.crop.y0 == max(0, core_y0 - halo) // piv.grid_alignment * piv.grid_alignment
        assert tile.crop.y1 == min(shape[0], core_y1 + halo)
        assert tile.crop.x1 == min(shape[1], core_x1 + halo)
        assert tile.crop.x0 <= max(0, core_x0 - halo)
