"""Processing one tile job: read the pair (cached), crop, run the algorithm, keep the core."""

from __future__ import annotations

import io
import time
from collections import OrderedDict

import numpy as np

from pivfleet.algorithm import Vectors, load_algorithm
from pivfleet.errors import PairError, PermanentJobError, PivfleetError
from pivfleet.imaging import Frame, decode_frame
from pivfleet.layout import Layout
from pivfleet.messages import TileJob, TileResult
from pivfleet.ports import BlobStore

FRAME_CACHE_PAIRS = 2
"""Decoded pairs a worker keeps: consecutive tiles of one pair read it once."""


class FrameCache:
    """The last few decoded pairs, keyed by their frame names."""

    def __init__(self, store: BlobStore, capacity: int = FRAME_CACHE_PAIRS) -> None:
        self.store = store
        self.capacity = capacity
        self._pairs: OrderedDict[tuple[str, str], tuple[Frame, Frame]] = OrderedDict()
        self.bytes_read = 0

    def pair(self, frame_a: str, frame_b: str) -> tuple[Frame, Frame]:
        key = (frame_a, frame_b)
        if key not in self._pairs:
            self._pairs[key] = (self._read(frame_a), self._read(frame_b))
            while len(self._pairs) > self.capacity:
                self._pairs.popitem(last=False)
        self._pairs.move_to_end(key)
        return self._pairs[key]

    def _read(self, name: str) -> Frame:
        data = self.store.get(name)
        self.bytes_read += len(data)
        return decode_frame(data, name)


def compute_tile(job: TileJob, frames: tuple[Frame, Frame]) -> Vectors:
    """Run the job's algorithm on its crop and return the vectors of its core."""
    frame_a, frame_b = frames
    if frame_a.shape != tuple(job.image_shape) or frame_b.shape != frame_a.shape:
        raise PairError(
            f"{job.pair}: frames are {frame_a.shape} and {frame_b.shape}, "
            f"the plan expected {tuple(job.image_shape)}; were they replaced after submitting?"
        )
    crop, core, step = job.tile.crop, job.tile.core, job.piv.steps[-1]
    region = (slice(crop.y0, crop.y1), slice(crop.x0, crop.x1))
    algorithm = load_algorithm(job.algorithm)
    try:
        vectors = algorithm.process(frame_a[region], frame_b[region], job.piv, job.parameters)
    except ValueError as error:
        raise PermanentJobError(
            f"{job.algorithm} failed on tile {job.tile.index}: {error}"
        ) from error
    row0, col0 = crop.y0 // step, crop.x0 // step
    return vectors.block(
        slice(core.y0 - row0, core.y1 - row0), slice(core.x0 - col0, core.x1 - col0)
    )


def encode_vectors(vectors: Vectors) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, u=vectors.u, v=vectors.v, flags=vectors.flags)
    return buffer.getvalue()


def decode_vectors(data: bytes) -> Vectors:
    with np.load(io.BytesIO(data)) as arrays:
        return Vectors(arrays["u"], arrays["v"], arrays["flags"])


def process_tile(
    job: TileJob, frames: FrameCache, work_store: BlobStore, layout: Layout
) -> TileResult:
    """Do one job; permanent problems become a failed result, others propagate to retry."""
    started = time.perf_counter()
    try:
        vectors = compute_tile(job, frames.pair(job.frame_a, job.frame_b))
    except PivfleetError as error:
        return failed_result(job, str(error), time.perf_counter() - started)
    key = layout.tile(job.pair, job.tile.index)
    work_store.put(key, encode_vectors(vectors))
    seconds = round(time.perf_counter() - started, 4)
    return TileResult(
        run=job.run, pair=job.pair, tile=job.tile.index, tile_count=job.tile_count,
        status="done", key=key, seconds=seconds,
    )  # fmt: skip


def failed_result(job: TileJob, error: str, seconds: float = 0.0) -> TileResult:
    return TileResult(
        run=job.run, pair=job.pair, tile=job.tile.index, tile_count=job.tile_count,
        status="failed", error=error, seconds=round(seconds, 4),
    )  # fmt: skip
