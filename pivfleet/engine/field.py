"""The global steps of a pass, on the whole vector field: validation with every test OpenPIV's
windef runs, outlier replacement, and the predictor for the next pass. They are cheap on the
grid and cannot be done right inside a tile, so tiled and whole-pair runs both do them here,
on the assembled field of each pass."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from openpiv import filters, validation
from scipy.interpolate import RectBivariateSpline

from pivfleet.core.spec import PivSettings
from pivfleet.core.tiling import Box
from pivfleet.engine.kernel import Field, PassGrid, Predictor, RawPass

Flags = npt.NDArray[np.bool_]


class NoValidVectorError(ValueError):
    """Every vector of a pass failed validation: there is nothing to predict the next from."""


@dataclass(frozen=True)
class PassField:
    """A pass's vectors after validation and replacement, and which were flagged."""

    u: Field
    v: Field
    flags: Flags


def assemble(grid: tuple[int, int], blocks: list[tuple[Box, RawPass]]) -> RawPass:
    """A pass's raw field from its jobs' core blocks (grid indices); a block never delivered
    stays NaN, so validation flags it and replacement fills it from its neighbours."""
    u, v, s2n = (np.full(grid, np.nan) for _ in range(3))
    for core, raw in blocks:
        rows, cols = slice(core.y0, core.y1), slice(core.x0, core.x1)
        u[rows, cols], v[rows, cols], s2n[rows, cols] = raw.u, raw.v, raw.s2n
    return RawPass(u, v, s2n)


def validate(raw: RawPass, piv: PivSettings) -> Flags:
    """OpenPIV's `typical_validation`: the global range, the global std (when on), the local
    median (plain, or normalised: `engine/validation.py`) and signal-to-noise tests."""
    u, v = raw.u, raw.v
    flags = validation.global_val(u, v, piv.min_max_u_disp, piv.min_max_v_disp)
    if piv.std_threshold is not None:
        flags |= validation.global_std(u, v, std_threshold=piv.std_threshold)
    if piv.engine == "fast" or piv.median_normalized:
        from pivfleet.engine.validation import median_flags  # numba: where it runs only

        flags |= median_flags(u, v, piv)
    else:
        threshold, size = piv.median_threshold, piv.median_size
        flags |= validation.local_median_val(u, v, threshold, threshold, size=size)
    if piv.sig2noise_validate:
        flags |= raw.s2n < piv.sig2noise_threshold
    return np.asarray(flags, bool)


def replace(raw: RawPass, flags: Flags, piv: PivSettings, first: bool) -> tuple[Field, Field]:
    """Fill flagged vectors from their neighbours; the first pass uses its own iterations and
    kernel, as OpenPIV's `simple_multipass` does."""
    iterations = piv.first_pass_max_filter_iteration if first else piv.max_filter_iteration
    kernel = piv.first_pass_filter_kernel_size if first else piv.filter_kernel_size
    if piv.engine == "fast":
        from pivfleet.engine.replacement import replace_holes  # numba: where it runs only

        method = piv.filter_method
        return (
            replace_holes(raw.u, flags, method, iterations, kernel),
            replace_holes(raw.v, flags, method, iterations, kernel),
        )
    u, v = np.ma.masked_array(raw.u, mask=False), np.ma.masked_array(raw.v, mask=False)
    u, v = filters.replace_outliers(
        u, v, flags, method=piv.filter_method, max_iter=iterations, kernel_size=kernel
    )
    return np.asarray(u, float), np.asarray(v, float)


def settle(raw: RawPass, piv: PivSettings, first: bool, last: bool) -> PassField:
    """Validate and replace one pass's assembled field. A later pass with every vector flagged
    raises, as OpenPIV's windef does; the last pass is replaced only when asked."""
    checked = piv.validation_first_pass or not first or last
    flags = validate(raw, piv) if checked else np.zeros(raw.u.shape, bool)
    if not first and flags.all():
        raise NoValidVectorError(
            "every vector of a pass failed validation: check that both frames show particles "
            "there, and that --u-range/--v-range and --std-threshold allow the flow's "
            "displacements"
        )
    if last and not piv.replace_vectors:
        return PassField(raw.u, raw.v, flags)
    u, v = replace(raw, flags, piv, first)
    return PassField(u, v, flags)


def predict(
    field: PassField, grid: PassGrid, next_grid: PassGrid, image_shape: tuple[int, int]
) -> Predictor:
    """The next pass's predictor: this pass's field interpolated onto the next grid with cubic
    splines (OpenPIV's `multipass_img_deform`), NaN (unfilled holes) counted as no motion."""
    rows, cols = grid.shape(image_shape)
    ys, xs = grid.centres(rows), grid.centres(cols)
    next_rows, next_cols = next_grid.shape(image_shape)
    next_ys, next_xs = next_grid.centres(next_rows), next_grid.centres(next_cols)
    u = RectBivariateSpline(ys, xs, np.nan_to_num(field.u, nan=0.0))(next_ys, next_xs)
    v = RectBivariateSpline(ys, xs, np.nan_to_num(field.v, nan=0.0))(next_ys, next_xs)
    return Predictor(next_ys, next_xs, u, v)
