"""The algorithm contract: a tile pair in, vectors on the tile's final-pass grid out.

Algorithms register under the entry-point group `pivfleet.algorithms`; the built-in windef does
so through pyproject.toml exactly as a user's plugin would.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from pivfleet.errors import AlgorithmError
from pivfleet.imaging import Frame
from pivfleet.spec import PivSettings
from pivfleet.tiling import grid_shape

ENTRY_POINT_GROUP = "pivfleet.algorithms"
FLAG_VALID, FLAG_REPLACED, FLAG_MISSING = 0, 1, 2
"""Vector flags: as measured, replaced after failing validation, missing (tile failed)."""


@dataclass(frozen=True)
class Vectors:
    """Displacements in image coordinates (u right, v down, pixels per frame) on a grid."""

    u: npt.NDArray[np.float64]
    v: npt.NDArray[np.float64]
    flags: npt.NDArray[np.int8]

    def block(self, rows: slice, cols: slice) -> Vectors:
        return Vectors(self.u[rows, cols], self.v[rows, cols], self.flags[rows, cols])


class Algorithm(Protocol):
    """What every algorithm implements. `process` raises ValueError for bad parameters."""

    name: str

    def process(
        self, frame_a: Frame, frame_b: Frame, piv: PivSettings, parameters: dict[str, Any]
    ) -> Vectors: ...


class NoopAlgorithm:
    """Zero vectors on the right grid, for measuring the pipeline's own overhead.

    `sleep_seconds` (parameter, default 0) stands in for a slow tile in fault tests.
    """

    name = "noop"

    def process(
        self, frame_a: Frame, frame_b: Frame, piv: PivSettings, parameters: dict[str, Any]
    ) -> Vectors:
        time.sleep(float(parameters.get("sleep_seconds", 0)))
        shape = grid_shape(frame_a.shape[:2], piv.windows[-1], piv.steps[-1])
        zeros = np.zeros(shape)
        return Vectors(zeros, zeros.copy(), np.zeros(shape, dtype=np.int8))


def available_algorithms() -> list[str]:
    return sorted(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))


@cache
def load_algorithm(name: str) -> Algorithm:
    """Instantiate the algorithm registered as `name`, or say which ones exist."""
    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if not found:
        raise AlgorithmError(
            f"unknown algorithm {name!r}; installed: {', '.join(available_algorithms())}. "
            f"Install a plugin that registers it under the {ENTRY_POINT_GROUP!r} entry points."
        )
    algorithm: Algorithm = found[0].load()()
    return algorithm
