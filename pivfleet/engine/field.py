"""The global steps of a pass, on the whole vector field: validation with every test OpenPIV's
windef runs, outlier replacement, and the predictor for the next pass. They are cheap on the
grid and cannot be done right inside a tile, so tiled and whole-pair runs both do them here,
on the assembled field of each pass."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pivfleet.core.spec import PivSettings
from pivfleet.core.tiling import Box
from pivfleet.engine.backends import backend
from pivfleet.engine.kernel import Field, Flags, PassGrid, Predictor, RawPass


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
    median and signal-to-noise tests."""
    u, v = raw.u, raw.v
    flags = outside_range(u, piv.min_max_u_disp) | outside_range(v, piv.min_max_v_disp)
    if piv.std_threshold is not None:
        flags |= beyond_std(u, v, piv.std_threshold)
    flags |= backend(piv).local_median(u, v, piv)
    if piv.sig2noise_validate:
        flags |= raw.s2n < piv.sig2noise_threshold
    return flags


def outside_range(field: Field, limits: tuple[float, float]) -> Flags:
    return (field < limits[0]) | (field > limits[1])


def beyond_std(u: Field, v: Field, threshold: float) -> Flags:
    """OpenPIV's `global_std`: beyond `threshold` standard deviations of the field's mean in u
    or v; when that is every vector (a uniform shift), none."""
    flags = np.zeros(u.shape, bool)
    for field in (u, v):
        with np.errstate(invalid="ignore"):
            flags |= np.abs(field - np.nanmean(field)) > threshold * np.nanstd(field)
    return ~flags if flags.all() else flags


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
    u, v = backend(piv).replace((raw.u, raw.v), flags, piv, first)
    return PassField(u, v, flags)


def predict(
    field: PassField, grid: PassGrid, next_grid: PassGrid, image_shape: tuple[int, int],
    piv: PivSettings,
) -> Predictor:  # fmt: skip
    """The next pass's predictor: this pass's field interpolated onto the next grid with cubic
    splines (OpenPIV's `multipass_img_deform`), NaN (unfilled holes) counted as no motion."""
    rows, cols = grid.shape(image_shape)
    points = (grid.centres(rows), grid.centres(cols))
    next_rows, next_cols = next_grid.shape(image_shape)
    at = (next_grid.centres(next_rows), next_grid.centres(next_cols))
    filled = (np.nan_to_num(field.u, nan=0.0), np.nan_to_num(field.v, nan=0.0))
    u, v = backend(piv).interpolate(filled, points, at)
    return Predictor(*at, u, v)
