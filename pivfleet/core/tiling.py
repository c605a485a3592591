"""Tile planning: crops whose windows land on the frame's grid of each pass.

OpenPIV's windef puts pass k's windows at `i * step_k` from the top-left corner, so a crop
starting on that grid sees a subset of the frame's windows. Each tile keeps only its *core*.

- Pass-synchronous tiles (pivfleet's engine): one pass per job; the core is a block of that
  pass's grid; the crop adds the predictor's reach and the interpolation stencil, since the
  collector validates and replaces each pass on the whole grid (`plan_pass_tiles`).
- Halo tiles (algorithms that are black boxes): every pass in one job; the core is a block of
  the final grid; the halo gives deformation, validation and outlier replacement near the core
  the neighbourhood the whole image would (`plan_tiles`).
"""

from __future__ import annotations

import itertools
import math
from typing import Literal

from pydantic import BaseModel, ConfigDict

from pivfleet.core.spec import STENCIL_PIXELS, PivSettings, TilingChoice

TileMode = Literal["passes", "halo", "whole"]
"""How an algorithm's pairs may be cut: pass by pass (pivfleet's own engine), into crops with
a halo (any black box), or not at all (a program that needs the whole frames)."""

MIN_AUTO_TILE_PIXELS = 1024
"""`tiling: auto` never cuts halo tiles' cores smaller than this, so halo work stays under
~2× the core."""
MIN_AUTO_PASS_TILE_PIXELS = 640
"""`tiling: auto` never cuts pass-synchronous tiles smaller than this: each pass's jobs then
read ≤ 1.25 × the pair's pixels with 64/32/16 windows and 30 px displacements."""


class Box(BaseModel):
    """A half-open pixel rectangle [y0, y1) × [x0, x1)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    y0: int
    y1: int
    x0: int
    x1: int

    @property
    def shape(self) -> tuple[int, int]:
        return (self.y1 - self.y0, self.x1 - self.x0)


class Tile(BaseModel):
    """One job's share of a pair: the crop it reads and the grid block (`core`) it keeps."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    index: int
    crop: Box
    core: Box
    """Final-pass grid indices [row0, row1) × [col0, col1), stored as y0/y1/x0/x1."""


def grid_shape(image_shape: tuple[int, int], window: int, step: int) -> tuple[int, int]:
    """Rows and columns of windows OpenPIV fits in an image (as `get_field_shape`)."""
    rows, cols = ((size - window) // step + 1 for size in image_shape)
    return (max(rows, 0), max(cols, 0))


def halo_pixels(piv: PivSettings) -> int:
    """How far information travels into a core: outlier filling, one window, one displacement.

    Iterative outlier replacement spreads values `iterations × kernel` grid steps per pass; a
    window and the largest displacement add what a vector near the core reads.
    """
    first = piv.first_pass_max_filter_iteration * piv.first_pass_filter_kernel_size
    later = piv.max_filter_iteration * piv.filter_kernel_size
    reach = max([first * piv.steps[0], *(later * step for step in piv.steps[1:])])
    return reach + piv.windows[0] + math.ceil(piv.max_displacement)


def split_evenly(count: int, chunk: int) -> list[tuple[int, int]]:
    """Split range(count) into contiguous spans of about `chunk` items, sizes within one."""
    pieces = max(1, math.ceil(count / max(chunk, 1)))
    edges = [round(i * count / pieces) for i in range(pieces + 1)]
    return [(a, b) for a, b in itertools.pairwise(edges) if b > a]


def crop_span(
    first: int, last: int, size: int, piv: PivSettings, min_halo_px: int = 0
) -> tuple[int, int]:
    """Pixel span covering final-grid cells [first, last) plus the halo (`halo_pixels`, or
    `min_halo_px` when the algorithm declares it sees further), its start grid-aligned."""
    step, window, align = piv.steps[-1], piv.windows[-1], piv.grid_alignment
    halo = max(halo_pixels(piv), min_halo_px)
    start = max(0, first * step - halo) // align * align
    stop = min(size, (last - 1) * step + window + halo)
    return start, stop


def plan_tiles(
    image_shape: tuple[int, int], piv: PivSettings, tile_pixels: int | None, min_halo_px: int = 0
) -> list[Tile]:
    """Tiles for one pair; `tile_pixels=None` gives one tile covering the whole image. Crops
    reach at least `min_halo_px` beyond their cores' windows (an algorithm's own halo)."""
    rows, cols = grid_shape(image_shape, piv.windows[-1], piv.steps[-1])
    cells = max(1, (tile_pixels or max(image_shape)) // piv.steps[-1])
    if tile_pixels is None:
        cells = max(rows, cols, 1)
    tiles: list[Tile] = []
    for r0, r1 in split_evenly(rows, cells):
        y0, y1 = crop_span(r0, r1, image_shape[0], piv, min_halo_px)
        for c0, c1 in split_evenly(cols, cells):
            x0, x1 = crop_span(c0, c1, image_shape[1], piv, min_halo_px)
            crop = Box(y0=y0, y1=y1, x0=x0, x1=x1)
            tiles.append(Tile(index=len(tiles), crop=crop, core=Box(y0=r0, y1=r1, x0=c0, x1=c1)))
    return tiles


def choose_tile_pixels(
    tiling: TilingChoice, image_shape: tuple[int, int], pairs: int, workers: int,
    synchronous: bool = False,
) -> int | None:  # fmt: skip
    """Resolve `auto`: whole pairs when there are plenty (no round trips between passes);
    otherwise tiles so that each pass (or each pair, for halo tiles) has about two jobs per
    worker, no smaller than keeps the margin small."""
    if tiling == "none":
        return None
    if tiling != "auto":
        return int(tiling)
    if pairs >= 2 * workers:
        return None
    tiles_per_pair = math.ceil(2 * workers / max(pairs, 1))
    side = math.sqrt(image_shape[0] * image_shape[1] / tiles_per_pair)
    least = MIN_AUTO_PASS_TILE_PIXELS if synchronous else MIN_AUTO_TILE_PIXELS
    pixels = max(least, int(side))
    return None if pixels >= max(image_shape) else pixels


def pass_reach_pixels(piv: PivSettings, pass_index: int, displacement_px: float) -> int:
    """How far beyond its windows a pass-synchronous job reads: nothing in the first pass; in
    later ones, where deformation samples the frames (half the predicted displacement each
    way, or all of it when only frame B is deformed) plus the interpolation stencil."""
    if pass_index == 0:
        return 0
    moved = displacement_px / 2 if piv.deformation_method == "symmetric" else displacement_px
    return math.ceil(moved) + STENCIL_PIXELS


def plan_pass_tiles(
    image_shape: tuple[int, int], piv: PivSettings, pass_index: int, tile_pixels: int,
    reach_px: int,
) -> list[Tile]:  # fmt: skip
    """Pass-synchronous tiles of one pass: cores are blocks of that pass's grid, about
    `tile_pixels` wide; crops hold the cores' windows plus `reach_px`, starting on the pass's
    grid so that their windows are the frame's windows."""
    window, step = piv.windows[pass_index], piv.steps[pass_index]
    rows, cols = grid_shape(image_shape, window, step)
    cells = max(1, tile_pixels // step)
    tiles: list[Tile] = []
    for r0, r1 in split_evenly(rows, cells):
        y0, y1 = pass_crop_span((r0, r1), image_shape[0], window, step, reach_px)
        for c0, c1 in split_evenly(cols, cells):
            x0, x1 = pass_crop_span((c0, c1), image_shape[1], window, step, reach_px)
            crop = Box(y0=y0, y1=y1, x0=x0, x1=x1)
            tiles.append(Tile(index=len(tiles), crop=crop, core=Box(y0=r0, y1=r1, x0=c0, x1=c1)))
    return tiles


def pass_crop_span(
    cells: tuple[int, int], size: int, window: int, step: int, reach_px: int
) -> tuple[int, int]:
    """Pixels of windows `cells` plus `reach_px` each side, the start on the pass's grid."""
    start = max(0, cells[0] * step - reach_px) // step * step
    stop = min(size, (cells[1] - 1) * step + window + reach_px)
    return start, stop


def work_factor(tiles: list[Tile], image_shape: tuple[int, int]) -> float:
    """Pixels the tiles read over the pixels of the pair (1.0: each pixel read once)."""
    read = sum(tile.crop.shape[0] * tile.crop.shape[1] for tile in tiles)
    return read / (image_shape[0] * image_shape[1])
