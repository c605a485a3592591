"""The reference backend: OpenPIV's windef functions, on the frames in double precision."""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
from openpiv import filters, pyprocess, validation
from scipy.interpolate import RectBivariateSpline

from pivfleet.core.imaging import Frame, Pixels, as_double
from pivfleet.core.spec import PivSettings
from pivfleet.engine.backends import replacement_schedule
from pivfleet.engine.kernel import Field, Flags, PassGrid, Predictor, resample_pair


class OpenPivBackend:
    def deform(
        self, frames: tuple[Pixels, Pixels], predictor: Predictor, piv: PivSettings,
        origin: tuple[int, int],
    ) -> tuple[Pixels, Pixels]:  # fmt: skip
        double = (as_double(frames[0]), as_double(frames[1]))
        return resample_pair(double, predictor, origin, piv.interpolation_order)

    def correlate(
        self, frames: tuple[Pixels, Pixels], grid: PassGrid, piv: PivSettings
    ) -> tuple[Field, Field, Field]:
        # OpenPIV prints a line per pass ("Found N bad peak(s)"); keep worker logs structured.
        with contextlib.redirect_stdout(io.StringIO()):
            u, v, s2n = pyprocess.extended_search_area_piv(
                as_double(frames[0]),
                as_double(frames[1]),
                window_size=grid.window,
                overlap=grid.overlap,
                search_area_size=grid.window,
                width=piv.sig2noise_mask,
                subpixel_method=piv.subpixel_method,
                sig2noise_method=piv.sig2noise_method if piv.sig2noise_validate else None,
                correlation_method=piv.correlation_method,
                normalized_correlation=piv.normalized_correlation,
                use_vectorized=True,  # windef's default: its vectorised sub-pixel and s2n
            )
        shape = grid.shape(frames[0].shape)
        return tuple(np.asarray(f, float).reshape(shape) for f in (u, v, s2n))  # type: ignore[return-value]

    def local_median(self, u: Frame, v: Frame, piv: PivSettings) -> Flags:
        if piv.median_normalized:  # OpenPIV's differs from W&S's: ours in both engines
            from pivfleet.engine.validation import median_flags

            return median_flags(u, v, piv)
        threshold = piv.median_threshold
        # A neighbourhood of holes has no median (NaN, not an outlier): numpy's warning about
        # it would be the only line `pivfleet run` prints that is not ours.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "All-NaN slice encountered", RuntimeWarning)
            flags = validation.local_median_val(u, v, threshold, threshold, size=piv.median_size)
        return np.asarray(flags, bool)

    def replace(
        self, field: tuple[Frame, Frame], holes: Flags, piv: PivSettings, first: bool
    ) -> tuple[Field, Field]:
        iterations, kernel = replacement_schedule(piv, first)
        u, v = (np.ma.masked_array(f, mask=False) for f in field)
        u, v = filters.replace_outliers(
            u, v, holes, method=piv.filter_method, max_iter=iterations, kernel_size=kernel
        )
        return np.asarray(u, float), np.asarray(v, float)

    def interpolate(
        self, field: tuple[Field, Field], points: tuple[Frame, Frame], at: tuple[Frame, Frame]
    ) -> tuple[Field, Field]:
        u, v = (RectBivariateSpline(*points, f)(*at) for f in field)
        return u, v


def deform_second_image(
    frame: Pixels, centres: tuple[Frame, Frame], shift: tuple[Frame, Frame], order: int
) -> Pixels:
    """OpenPIV's `deform_windows`: frame B moved by the whole predictor (`shift` = u, v at the
    window `centres` x, y)."""
    from openpiv.windef import deform_windows

    u, v = shift
    return deform_windows(as_double(frame), *centres, u, -v, interpolation_order=order)  # type: ignore[no-any-return]
