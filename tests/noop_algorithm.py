"""A test algorithm: zero vectors on the right grid, for measuring the pipeline's own overhead
and for fault tests. Registered for role processes by `tests/integration/helpers.py`, the way
a user's plugin registers, never by the product.

`sleep_seconds` (parameter, default 0) stands in for a slow tile.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from pivfleet.core.imaging import Frame
from pivfleet.core.spec import PivSettings
from pivfleet.core.tiling import grid_shape
from pivfleet.core.vectors import Vectors

ENTRY_POINT = "noop = tests.noop_algorithm:NoopAlgorithm"


class NoopAlgorithm:
    name = "noop"

    def process(
        self, frame_a: Frame, frame_b: Frame, piv: PivSettings, parameters: dict[str, Any]
    ) -> Vectors:
        time.sleep(float(parameters.get("sleep_seconds", 0)))
        shape = grid_shape(frame_a.shape[:2], piv.windows[-1], piv.steps[-1])
        zeros = np.zeros(shape)
        return Vectors(zeros, zeros.copy(), np.zeros(shape, dtype=np.int8))
