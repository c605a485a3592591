"""pivfleet's fast backend: single-precision correlation in cache-sized blocks, compiled
deformation, peaks, median test and replacement (`correlation`, `deformation`, `peaks`,
`validation`, `replacement`), each equal to OpenPIV's within single-precision rounding, and the
next pass's predictor interpolated with fitpack's spline without scipy.interpolate (`splines`)."""

from __future__ import annotations

from pivfleet.core.imaging import Frame, Pixels
from pivfleet.core.spec import PivSettings
from pivfleet.engine.backends import replacement_schedule
from pivfleet.engine.correlation import correlate_windows
from pivfleet.engine.deformation import deform_pair
from pivfleet.engine.kernel import Field, Flags, PassGrid, Predictor, resample_pair
from pivfleet.engine.replacement import replace_holes
from pivfleet.engine.splines import fit
from pivfleet.engine.validation import median_flags

SPLINE_ORDER = 3
"""The compiled resampling is cubic (OpenPIV's default); other orders use scipy's."""


class FastBackend:
    def deform(
        self, frames: tuple[Pixels, Pixels], predictor: Predictor, piv: PivSettings,
        origin: tuple[int, int],
    ) -> tuple[Pixels, Pixels]:  # fmt: skip
        if piv.interpolation_order != SPLINE_ORDER:
            return resample_pair(frames, predictor, origin, piv.interpolation_order)
        return deform_pair(frames, predictor, origin)

    def correlate(
        self, frames: tuple[Pixels, Pixels], grid: PassGrid, piv: PivSettings
    ) -> tuple[Field, Field, Field]:
        return correlate_windows(*frames, grid, piv)

    def local_median(self, u: Frame, v: Frame, piv: PivSettings) -> Flags:
        return median_flags(u, v, piv)

    def replace(
        self, field: tuple[Frame, Frame], holes: Flags, piv: PivSettings, first: bool
    ) -> tuple[Field, Field]:
        iterations, kernel = replacement_schedule(piv, first)
        u, v = (replace_holes(f, holes, piv.filter_method, iterations, kernel) for f in field)
        return u, v

    def interpolate(
        self, field: tuple[Field, Field], points: tuple[Frame, Frame], at: tuple[Frame, Frame]
    ) -> tuple[Field, Field]:
        u, v = (fit(*points, f)(*at) for f in field)
        return u, v
