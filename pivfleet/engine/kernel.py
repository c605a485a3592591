"""The per-pass kernel: what a pass computes from pixels. Deform the frames with the
predictor, correlate every window, find the sub-pixel peak and the signal-to-noise ratio.

It works on a crop as well as on a whole frame: windows sit on the frame's grid of the pass
(window `i` starts at pixel `i × step`), so a crop whose origin is on that grid sees the very
windows the whole frame has, and the deformation field is the same spline of the predictor.
Everything that needs the whole field (validation, replacement, the next predictor) is in
`engine/field.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pivfleet.core.imaging import Pixels
from pivfleet.core.spec import PivSettings
from pivfleet.engine.backends import backend

Field = npt.NDArray[np.float64]
Flags = npt.NDArray[np.bool_]
DEFORMATION_SPLINE_ORDER = 3
"""OpenPIV's `create_deformation_field` interpolates the predictor with cubic splines."""


@dataclass(frozen=True)
class PassGrid:
    """One pass's window grid on a frame: window `i` spans pixels `i·step … i·step+window`."""

    window: int
    overlap: int

    @property
    def step(self) -> int:
        return self.window - self.overlap

    def shape(self, image_shape: tuple[int, int]) -> tuple[int, int]:
        rows, cols = ((size - self.window) // self.step + 1 for size in image_shape)
        return (max(rows, 0), max(cols, 0))

    def centres(self, count: int, first: int = 0) -> npt.NDArray[np.float64]:
        """Pixel coordinates of window centres `first … first+count` along one axis."""
        return (np.arange(first, first + count) * self.step + self.window / 2.0).astype(float)


def pass_grids(piv: PivSettings) -> list[PassGrid]:
    return [PassGrid(w, o) for w, o in zip(piv.windows, piv.overlaps, strict=True)]


@dataclass(frozen=True)
class Predictor:
    """The displacement expected before a pass, on that pass's grid points `ys × xs` (pixel
    coordinates in the frame): the windows are deformed with it and it is added back after."""

    ys: npt.NDArray[np.float64]
    xs: npt.NDArray[np.float64]
    u: Field
    v: Field

    def block(
        self, grid: PassGrid, first: tuple[int, int], shape: tuple[int, int]
    ) -> tuple[Field, Field]:
        """The predictor at grid points `first … first+shape` (they are among its own)."""
        row0 = first[0] - round((self.ys[0] - grid.window / 2.0) / grid.step)
        col0 = first[1] - round((self.xs[0] - grid.window / 2.0) / grid.step)
        rows, cols = slice(row0, row0 + shape[0]), slice(col0, col0 + shape[1])
        return self.u[rows, cols], self.v[rows, cols]

    def dense(self, origin: tuple[int, int], shape: tuple[int, int]) -> tuple[Field, Field]:
        """The predictor on every pixel of the crop at `origin` of `shape` (as OpenPIV's
        `create_deformation_field`, which evaluates the same spline on every frame pixel)."""
        # Here only, not at import: the fast engine's cubic path does without scipy.interpolate.
        from scipy.interpolate import RectBivariateSpline

        rows = np.arange(origin[0], origin[0] + shape[0], dtype=float)
        cols = np.arange(origin[1], origin[1] + shape[1], dtype=float)
        order = DEFORMATION_SPLINE_ORDER
        u = RectBivariateSpline(self.ys, self.xs, self.u, kx=order, ky=order)(rows, cols)
        v = RectBivariateSpline(self.ys, self.xs, self.v, kx=order, ky=order)(rows, cols)
        return u, v


@dataclass(frozen=True)
class RawPass:
    """A pass's vectors before validation: displacement (predictor included) and s2n."""

    u: Field
    v: Field
    s2n: Field


def correlate_pass(
    frames: tuple[Pixels, Pixels],
    grid: PassGrid,
    piv: PivSettings,
    predictor: Predictor | None = None,
    origin: tuple[int, int] = (0, 0),
) -> RawPass:
    """Raw vectors of every window of `grid` inside the crop `frames`, whose top-left pixel is
    `origin` in the frame (on the grid: a multiple of `grid.step`)."""
    if predictor is None:
        return correlate(*frames, grid, piv)
    u_pre, v_pre = predictor.block(grid, first_window(grid, origin), grid.shape(frames[0].shape))
    raw = correlate(*deform(frames, grid, predictor, piv, origin), grid, piv)
    return RawPass(raw.u + u_pre, raw.v + v_pre, raw.s2n)


def first_window(grid: PassGrid, origin: tuple[int, int]) -> tuple[int, int]:
    return (origin[0] // grid.step, origin[1] // grid.step)


def deform(
    frames: tuple[Pixels, Pixels],
    grid: PassGrid,
    predictor: Predictor,
    piv: PivSettings,
    origin: tuple[int, int],
) -> tuple[Pixels, Pixels]:
    """Both frames moved half the predictor each way (symmetric), or frame B all of it."""
    if piv.deformation_method == "symmetric":
        return backend(piv).deform(frames, predictor, piv, origin)
    from pivfleet.engine.openpiv_backend import deform_second_image

    rows, cols = grid.shape(frames[0].shape)
    first = first_window(grid, origin)
    centres = np.meshgrid(
        grid.centres(cols, first[1]) - origin[1], grid.centres(rows, first[0]) - origin[0]
    )
    shift = predictor.block(grid, first, (rows, cols))
    moved = deform_second_image(frames[1], (centres[0], centres[1]), shift, piv.interpolation_order)
    return frames[0], moved


def resample_pair(
    frames: tuple[Pixels, Pixels], predictor: Predictor, origin: tuple[int, int], order: int
) -> tuple[Pixels, Pixels]:
    """Symmetric deformation as OpenPIV's windef does it: the predictor's spline on every pixel
    (`create_deformation_field`), then `map_coordinates` of the given order, mode "nearest"."""
    from scipy import ndimage  # the reference's and non-cubic orders' only: not at import

    shape = frames[0].shape
    u, v = predictor.dense(origin, shape)
    rows, cols = np.meshgrid(*(np.arange(n, dtype=float) for n in shape), indexing="ij")
    moved_a = ndimage.map_coordinates(
        frames[0], (rows - v / 2, cols - u / 2), order=order, mode="nearest"
    )
    moved_b = ndimage.map_coordinates(
        frames[1], (rows + v / 2, cols + u / 2), order=order, mode="nearest"
    )
    return moved_a, moved_b


def correlate(frame_a: Pixels, frame_b: Pixels, grid: PassGrid, piv: PivSettings) -> RawPass:
    """The FFT correlation, sub-pixel peak and s2n of every window of `grid`."""
    return RawPass(*backend(piv).correlate((frame_a, frame_b), grid, piv))
