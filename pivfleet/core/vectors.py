"""Vectors on a grid: what an algorithm returns for a tile, and how it is stored between roles."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

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


def encode_vectors(vectors: Vectors) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, u=vectors.u, v=vectors.v, flags=vectors.flags)
    return buffer.getvalue()


def decode_vectors(data: bytes) -> Vectors:
    with np.load(io.BytesIO(data)) as arrays:
        return Vectors(arrays["u"], arrays["v"], arrays["flags"])
