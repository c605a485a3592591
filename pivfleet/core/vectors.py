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
    """u, v and flags as one `(3, rows, cols)` float64 `.npy`: a collector decodes a thousand
    tiles' in milliseconds (an `.npz` is a zip archive to parse), and random mantissas would not
    compress anyway."""
    buffer = io.BytesIO()
    np.save(buffer, np.stack([vectors.u, vectors.v, vectors.flags.astype(np.float64)]))
    return buffer.getvalue()


def decode_vectors(data: bytes) -> Vectors:
    stacked = np.load(io.BytesIO(data), allow_pickle=False)
    return Vectors(stacked[0], stacked[1], stacked[2].astype(np.int8))
