"""pivfleet's PIV settings as OpenPIV's settings object, to run OpenPIV's own `windef` on the
same settings and compare (the engine calls OpenPIV's functions with explicit arguments)."""

from __future__ import annotations

import math

from openpiv.settings import PIVSettings

from pivfleet.core.spec import PivSettings

FIRST_PASS_ONLY = {"first_pass_max_filter_iteration", "first_pass_filter_kernel_size"}
OURS_ONLY = {"engine", "median_epsilon"}
"""Settings OpenPIV has no field for."""


def to_openpiv(piv: PivSettings) -> PIVSettings:
    """A fresh OpenPIV settings object: windef mutates it, so each call gets its own."""
    fields = piv.model_dump(exclude={"windows", "overlaps", *FIRST_PASS_ONLY, *OURS_ONLY})
    settings = PIVSettings(windowsizes=piv.windows, overlap=piv.overlaps, **fields)
    settings.num_iterations = len(piv.windows)
    if piv.std_threshold is None:
        settings.std_threshold = math.inf
    return settings
