"""Who computes the costly steps of a pass: OpenPIV's own functions (`engine: openpiv`, the
reference) or pivfleet's compiled ones (`engine: fast`). The kernel and the global steps ask
`backend(piv)` and never test the engine themselves.

Each backend's module is imported when it is first used, so a role pays only for what it runs:
OpenPIV pulls in scipy.signal, scipy.interpolate and matplotlib (~2 s of imports), the fast one
numba."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from pivfleet.core.imaging import Frame, Pixels
    from pivfleet.core.spec import PivSettings
    from pivfleet.engine.kernel import Field, Flags, PassGrid, Predictor


class Backend(Protocol):
    def deform(
        self, frames: tuple[Pixels, Pixels], predictor: Predictor, piv: PivSettings,
        origin: tuple[int, int],
    ) -> tuple[Pixels, Pixels]:  # fmt: skip
        """Both frames moved half the predictor each way (symmetric deformation) for the crop
        whose top-left pixel is `origin`."""

    def correlate(
        self, frames: tuple[Pixels, Pixels], grid: PassGrid, piv: PivSettings
    ) -> tuple[Field, Field, Field]:
        """u, v (v positive down) and s2n of every window of `grid`."""

    def local_median(self, u: Frame, v: Frame, piv: PivSettings) -> Flags:
        """The local median test's outliers (plain, or normalised: `engine/validation.py`)."""

    def replace(
        self, field: tuple[Frame, Frame], holes: Flags, piv: PivSettings, first: bool
    ) -> tuple[Field, Field]:
        """u and v with `holes` (and NaNs) filled from their neighbours."""

    def interpolate(
        self, field: tuple[Field, Field], points: tuple[Frame, Frame], at: tuple[Frame, Frame]
    ) -> tuple[Field, Field]:
        """u and v, given on the grid `points` (ys, xs), on the grid `at` (ys, xs): the cubic
        spline through them (fitpack's with s=0, as OpenPIV's windef fits it)."""


def backend(piv: PivSettings) -> Backend:
    if piv.engine == "fast":
        from pivfleet.engine.fast_backend import FastBackend

        return FastBackend()
    from pivfleet.engine.openpiv_backend import OpenPivBackend

    return OpenPivBackend()


def replacement_schedule(piv: PivSettings, first: bool) -> tuple[int, int]:
    """Iterations and kernel half-size of outlier replacement: the first pass has its own, as
    in OpenPIV's `simple_multipass`."""
    if first:
        return piv.first_pass_max_filter_iteration, piv.first_pass_filter_kernel_size
    return piv.max_filter_iteration, piv.filter_kernel_size
