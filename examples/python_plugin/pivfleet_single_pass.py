"""A pivfleet algorithm plugin: a single pass of OpenPIV's FFT cross-correlation on the last
window size, vectors below a signal-to-noise threshold marked missing.

Registered by pyproject.toml as `single-pass`; run it with
`pivfleet run FRAMES --out OUT --algorithm single-pass --param threshold=1.5`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from openpiv import pyprocess

from pivfleet.core.imaging import Frame
from pivfleet.core.spec import PivSettings
from pivfleet.core.vectors import FLAG_MISSING, FLAG_VALID, Vectors

PARAMETERS = {"threshold"}
DEFAULT_THRESHOLD = 1.2
"""Peak-to-peak signal-to-noise ratio (dimensionless) below which a vector is missing."""


class SinglePass:
    name = "single-pass"

    def check_parameters(self, parameters: dict[str, Any]) -> None:
        """Lets `pivfleet run` and `submit` refuse a misspelt parameter before anything runs."""
        unknown = set(parameters) - PARAMETERS
        if unknown:
            raise ValueError(f"single-pass takes only 'threshold'; unknown {sorted(unknown)}")

    def process(
        self, frame_a: Frame, frame_b: Frame, piv: PivSettings, parameters: dict[str, Any]
    ) -> Vectors:
        self.check_parameters(parameters)
        window, overlap = piv.windows[-1], piv.overlaps[-1]
        u, v, s2n = pyprocess.extended_search_area_piv(
            frame_a,
            frame_b,
            window_size=window,
            overlap=overlap,
            search_area_size=window,
            sig2noise_method="peak2peak",
        )
        # u right, v down (image coordinates), as the contract asks: no flip here.
        weak = s2n < float(parameters.get("threshold", DEFAULT_THRESHOLD))
        flags = np.where(weak, FLAG_MISSING, FLAG_VALID).astype(np.int8)
        return Vectors(np.where(weak, np.nan, u), np.where(weak, np.nan, v), flags)
