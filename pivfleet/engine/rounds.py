"""A pass split into jobs: what one pass-k job computes on its crop (map), what is computed on
the whole grid once every job of the pass is in (reduce), and how both travel between roles.

Whole-pair runs (`engine/reference.py`) and pass-synchronous tiles share the kernel and the
global steps, so a pair cut into tiles gets the vectors the whole pair gets."""

from __future__ import annotations

import io

import numpy as np

from pivfleet.core.imaging import Pixels
from pivfleet.core.spec import PivSettings
from pivfleet.core.tiling import Box, Tile
from pivfleet.core.vectors import Vectors
from pivfleet.engine.field import PassField, assemble, predict, settle
from pivfleet.engine.kernel import Predictor, RawPass, correlate_pass, first_window, pass_grids

PREDICTOR_MARGIN_POINTS = 16
"""Grid points a job reads of the predictor beyond its crop. The cubic spline fitted on them
differs from the whole grid's on the crop by ~1e-9 of the field's roughness (each grid point
further away weighs ~0.27× as much); 10 points (1e-6) moved one vector of test4 by 0.007 px,
a window whose correlation peak is ill-conditioned."""


def map_pass(
    pixels: tuple[Pixels, Pixels], piv: PivSettings, index: int, tile: Tile,
    predictor: Predictor | None,
) -> RawPass:  # fmt: skip
    """Pass `index` on the tile's crop (`pixels` of both frames): the raw vectors of its core.
    `predictor` needs to cover the crop only (`predictor_window`)."""
    grid, crop, core = pass_grids(piv)[index], tile.crop, tile.core
    raw = correlate_pass(pixels, grid, piv, predictor, (crop.y0, crop.x0))
    row0, col0 = first_window(grid, (crop.y0, crop.x0))
    rows, cols = slice(core.y0 - row0, core.y1 - row0), slice(core.x0 - col0, core.x1 - col0)
    return RawPass(raw.u[rows, cols], raw.v[rows, cols], raw.s2n[rows, cols])


def reduce_pass(
    blocks: list[tuple[Box, RawPass]], piv: PivSettings, index: int, image_shape: tuple[int, int]
) -> PassField:
    """Pass `index`'s field from its jobs' core blocks: validated and replaced on the whole
    grid (raises NoValidVectorError when a later pass has no valid vector)."""
    grid = pass_grids(piv)[index]
    raw = assemble(grid.shape(image_shape), blocks)
    return settle(raw, piv, first=index == 0, last=index == len(piv.windows) - 1)


def next_predictor(
    field: PassField, piv: PivSettings, index: int, image_shape: tuple[int, int]
) -> Predictor:
    """The predictor pass `index + 1` deforms with."""
    grids = pass_grids(piv)
    return predict(field, grids[index], grids[index + 1], image_shape, piv)


def predictor_reach(predictor: Predictor | None) -> float:
    """The largest displacement the predictor's spline reaches, in pixels (0 when none): its
    largest coefficient, a bound (a cubic B-spline's value is a weighted mean of its
    coefficients). Between grid points the spline overshoots them (test4: 32.2 px where the
    grid's largest is 31.5), and a crop must hold every pixel a window's deformation reads."""
    if predictor is None:
        return 0.0
    # Here, not at import: numba only in the roles that plan or run a later pass.
    from pivfleet.engine.splines import fit

    splines = (fit(predictor.ys, predictor.xs, field) for field in (predictor.u, predictor.v))
    return float(max(np.abs(spline.coefficients).max(initial=0.0) for spline in splines))


def final_vectors(field: PassField) -> Vectors:
    """The last pass's field as a pair's vectors (holes no pass could fill are zero, flagged)."""
    u, v = np.nan_to_num(field.u, nan=0.0), np.nan_to_num(field.v, nan=0.0)
    return Vectors(u, v, field.flags.astype(np.int8))


def encode_raw(raw: RawPass) -> bytes:
    return _encode(u=raw.u, v=raw.v, s2n=raw.s2n)


def decode_raw(data: bytes) -> RawPass:
    arrays = _decode(data)
    return RawPass(arrays["u"], arrays["v"], arrays["s2n"])


def predictor_window(piv: PivSettings, index: int, image_shape: tuple[int, int], crop: Box) -> Box:
    """The grid points of pass `index`'s predictor a job on `crop` reads: those under the crop
    and `PREDICTOR_MARGIN_POINTS` beyond it each side."""
    grid = pass_grids(piv)[index]
    rows, cols = grid.shape(image_shape)
    margin, half = PREDICTOR_MARGIN_POINTS, grid.window // 2

    def span(low: int, high: int, count: int) -> tuple[int, int]:
        first = (low - half) // grid.step - margin
        return max(first, 0), min(-(-(high - half) // grid.step) + 1 + margin, count)

    (y0, y1), (x0, x1) = span(crop.y0, crop.y1, rows), span(crop.x0, crop.x1, cols)
    return Box(y0=y0, y1=y1, x0=x0, x1=x1)


def local_predictor(piv: PivSettings, index: int, window: Box, uv: np.ndarray) -> Predictor:
    """The predictor of pass `index` on the grid points `window`, from its u and v there."""
    grid = pass_grids(piv)[index]
    ys, xs = grid.centres(window.shape[0], window.y0), grid.centres(window.shape[1], window.x0)
    return Predictor(ys, xs, uv[0], uv[1])


def stacked(predictor: Predictor) -> np.ndarray:
    """u and v as one `(2, rows, cols)` array, the form it is stored in (in strips)."""
    return np.stack([predictor.u, predictor.v])


def _encode(**arrays: np.ndarray) -> bytes:
    # Raw float64, uncompressed: a pass's blocks are read back bit for bit, and random
    # mantissas do not compress.
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **arrays)
    return buffer.getvalue()


def _decode(data: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(data)) as arrays:
        return {name: arrays[name] for name in arrays.files}
