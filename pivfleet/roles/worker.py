"""The worker: one tile job at a time. Read the pair (cached), run the algorithm on the crop,
store the core's vectors, report the result, then retire the job."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import numpy as np

from pivfleet.algorithms.executable import use_program_environment
from pivfleet.algorithms.registry import image_step, load_algorithm, use_specs
from pivfleet.core.cost import NO_USAGE, Usage, WorkerSize, sqs_send_requests
from pivfleet.core.errors import (
    PairError,
    PermanentJobError,
    PivfleetError,
    RetryableJobError,
    describe,
)
from pivfleet.core.imaging import Frame, Pixels, as_double, grey_levels
from pivfleet.core.keys import RunKeys
from pivfleet.core.messages import TileJob, TileResult, parse_message
from pivfleet.core.ports import ACK, BlobStore, JobQueue, Message, Outcome, dead_letter
from pivfleet.core.strips import FRAME_STRIP_PIXELS, narrowest
from pivfleet.core.vectors import Vectors, encode_vectors
from pivfleet.engine.kernel import Predictor
from pivfleet.engine.rounds import encode_raw, local_predictor, map_pass, predictor_window
from pivfleet.engine.threads import use_threads
from pivfleet.roles.frame_cache import FrameCache
from pivfleet.roles.metrics import Meter, MeteredQueue, MeteredStore, tile_metric
from pivfleet.roles.strip_store import StripStore

log = logging.getLogger("worker")
TileRunner = Callable[[TileJob], TileResult]


def prepare_process(
    threads: int, specs: Path | None, environment: Mapping[str, str] | None
) -> None:
    """A worker process's settings, on a Fargate task and in `pivfleet run`'s pool alike: its
    engine threads, the algorithm specs it may run, and the environment their commands see."""
    use_threads(threads)
    use_specs(specs)
    use_program_environment(environment)


def compute_tile(job: TileJob, crops: tuple[Pixels, Pixels]) -> Vectors:
    """Run the job's algorithm on its crop of both frames and return the vectors of its core."""
    crop, core, step = job.tile.crop, job.tile.core, job.piv.steps[-1]
    algorithm = load_algorithm(job.algorithm)
    frame_a, frame_b = frames_for(algorithm, crops)
    with algorithm_errors(job):
        vectors = algorithm.process(frame_a, frame_b, job.piv, job.parameters)
    row0, col0 = crop.y0 // step, crop.x0 // step
    return vectors.block(
        slice(core.y0 - row0, core.y1 - row0), slice(core.x0 - col0, core.x1 - col0)
    )


def frames_for(algorithm: object, crops: tuple[Pixels, Pixels]) -> tuple[Frame, Frame]:
    """The crops as `algorithm` takes them: in double precision, as the plugin contract says,
    unless it takes frames as decoded (`single_precision`: the built-in engine, which
    correlates in single precision anyway)."""
    if getattr(algorithm, "single_precision", False):
        return cast(tuple[Frame, Frame], crops)
    return as_double(crops[0]), as_double(crops[1])


@contextlib.contextmanager
def algorithm_errors(job: TileJob) -> Iterator[None]:
    """An algorithm's exception is permanent (the same pixels and settings fail the same way
    again), except running out of memory, which another worker or attempt may not repeat, and
    what the algorithm itself calls retryable (a wrapped executable's timeout or crash)."""
    try:
        yield
    except (MemoryError, RetryableJobError):
        raise
    except Exception as error:
        raise PermanentJobError(algorithm_failure(job, error)) from error


def algorithm_failure(job: TileJob, error: Exception) -> str:
    """What an algorithm's exception means, with the tile's place in the frame."""
    crop = job.tile.crop
    if job.step is not None:  # the pair's status names the step and its algorithm
        return f"failed on {job.frame_a}: {describe(error)}"
    stage = "" if job.pass_index is None else f"pass {job.pass_index + 1} of "
    where = (
        f"{stage}tile {job.tile.index} (x {crop.x0}..{crop.x1}, y {crop.y0}..{crop.y1} px "
        f"of {job.frame_a})"
    )
    return f"{job.algorithm} failed on {where}: {describe(error)}"


class Workspace:
    """What one worker process reads and writes: whole pairs (each decoded once), the crops and
    predictors of pass jobs (about the crop only), and the work store; its meter counts the
    requests of the job in hand."""

    def __init__(self, inputs: BlobStore, work: BlobStore) -> None:
        self.meter = Meter()
        self.frames = FrameCache(MeteredStore(inputs, self.meter))
        self.work = MeteredStore(work, self.meter)
        self.strips = StripStore(self.work)

    def pair(self, job: TileJob) -> tuple[Pixels, Pixels]:
        frame_a, frame_b = self.frames.pair(job.frame_a, job.frame_b, job.max_frame_pixels)
        if frame_a.shape != tuple(job.image_shape) or frame_b.shape != frame_a.shape:
            raise PairError(
                f"{job.pair}: frames are {frame_a.shape} and {frame_b.shape}, the plan "
                f"expected {tuple(job.image_shape)}; were they replaced after submitting?"
            )
        return frame_a, frame_b

    def crop(self, job: TileJob, keys: RunKeys) -> tuple[Pixels, Pixels]:
        """The job's crop of both frames, from their copies in strips: the dispatcher's of a
        pass-synchronous pair, or those an image step wrote."""
        a, b = (self.strips.read(strips_key(job, keys, s), job.tile.crop) for s in "ab")
        return grey_levels(a), grey_levels(b)

    def tile_crops(self, job: TileJob, keys: RunKeys) -> tuple[Pixels, Pixels]:
        """A job's crop of both frames when it runs every pass (a whole pair is its crop)."""
        if job.frames_from_step is not None:
            return self.crop(job, keys)
        crop = job.tile.crop
        region = (slice(crop.y0, crop.y1), slice(crop.x0, crop.x1))
        frame_a, frame_b = self.pair(job)
        return frame_a[region], frame_b[region]

    def predictor(self, job: TileJob, keys: RunKeys) -> Predictor | None:
        """The predictor a pass job deforms with, on the grid points around its crop."""
        index = job.pass_index
        if not index:
            return None
        window = predictor_window(job.piv, index, job.image_shape, job.tile.crop)
        uv = self.strips.read(keys.predictor(job.pair, index), window)
        return local_predictor(job.piv, index, window, uv)


def strips_key(job: TileJob, keys: RunKeys, side: str) -> str:
    if job.frames_from_step is None:
        return keys.frame_strips(job.pair, side)
    return keys.step_frames(job.pair, job.frames_from_step, side)


def process_tile(job: TileJob, space: Workspace, keys: RunKeys) -> TileResult:
    """Do one job; permanent problems become a failed result, others propagate to retry (and
    the requests of the failed attempt are reported with the next result)."""
    started = time.perf_counter()
    try:
        key = compute_job(job, space, keys)
    except PivfleetError as error:
        return failed_result(job, str(error), time.perf_counter() - started, space.meter.take())
    crop, usage = job.tile.crop.shape, space.meter.take()
    return TileResult(
        run=job.run, generation=job.generation, pair=job.pair, pass_index=job.pass_index,
        step=job.step,
        tile=job.tile.index, tile_count=job.tile_count, core=job.tile.core, status="done",
        key=key, seconds=round(time.perf_counter() - started, 4),
        bytes_read=usage.bytes_read, usage=usage,
        pixels_read=crop[0] * crop[1],
    )  # fmt: skip


def compute_job(job: TileJob, space: Workspace, keys: RunKeys) -> str:
    """Do the job, store what it made and say where: an image step's frames, a pass's raw
    block, or every pass's final vectors."""
    if job.step is not None:
        return compute_step(job, space, keys)
    if job.pass_index is None:
        key = keys.tile(job.pair, job.tile.index)
        space.work.put(key, encode_vectors(compute_tile(job, space.tile_crops(job, keys))))
        return key
    index, pixels, predictor = job.pass_index, space.crop(job, keys), space.predictor(job, keys)
    with algorithm_errors(job):
        raw = map_pass(pixels, job.piv, index, job.tile, predictor)
    key = keys.pass_tile(job.pair, index, job.tile.index)
    space.work.put(key, encode_raw(raw))
    return key


def compute_step(job: TileJob, space: Workspace, keys: RunKeys) -> str:
    """Run image step `job.step` on the whole pair and store both frames it made in strips."""
    assert job.step is not None
    step = image_step(job.algorithm)
    frame_a, frame_b = frames_for(step, space.tile_crops(job, keys))
    with algorithm_errors(job):
        images = check_step_images(job, step.process_images(frame_a, frame_b, job.parameters))
    for side, image in zip("ab", images, strict=True):
        space.strips.write(keys.step_frames(job.pair, job.step, side), image, FRAME_STRIP_PIXELS)
    return keys.step_frames(job.pair, job.step, "a")


def check_step_images(job: TileJob, images: tuple[Frame, Frame]) -> tuple[Frame, Frame]:
    """The step's frames, as narrow as they are exact; ValueError when they are not two
    finite frames of the pair's size."""
    shape = tuple(job.image_shape)
    for side, image in zip("AB", images, strict=True):
        if image.shape != shape:
            raise ValueError(
                f"made frame {side} of {image.shape}, not the pair's {shape}: an image step "
                "keeps the frames' size"
            )
        if not np.all(np.isfinite(image)):
            raise ValueError(f"made frame {side} with NaN or infinite values")
    return narrowest(images[0]), narrowest(images[1])


def failed_result(
    job: TileJob, error: str, seconds: float = 0.0, usage: Usage = NO_USAGE
) -> TileResult:
    return TileResult(
        run=job.run, generation=job.generation, pair=job.pair, pass_index=job.pass_index,
        tile=job.tile.index, step=job.step,
        tile_count=job.tile_count, core=job.tile.core, status="failed", error=error,
        seconds=round(seconds, 4), bytes_read=usage.bytes_read, usage=usage,
    )  # fmt: skip


@dataclass
class Worker:
    """The jobs queue's role: run the tile, send its result, then retire the job. Reporting
    first means a crash between the two repeats the (idempotent) job instead of losing its
    result.

    Each result carries the job's usage: the time held at the worker's `size`, the tile's
    reads and writes, and what `meter` counted since the last result (the jobs queue as
    `metered` gives it to the consume loop: the previous job's ack, this one's receive and
    heartbeats)."""

    results: JobQueue
    run_tile: TileRunner
    size: WorkerSize = field(default_factory=WorkerSize)
    meter: Meter = field(default_factory=Meter)

    def metered(self, jobs: JobQueue) -> JobQueue:
        """The jobs queue as this worker's consume loop should use it: counted with its jobs."""
        return MeteredQueue(jobs, self.meter)

    def handle(self, message: Message) -> Outcome:
        job = parse_message(message.body, TileJob)
        started = time.perf_counter()
        result = self.run_tile(job)
        held = time.perf_counter() - started
        log.info(
            "tile processed",
            extra={
                "run": job.run, "pair": job.pair, "pass": job.pass_index, "tile": job.tile.index,
                "step": job.step,
                "status": result.status,
                "seconds": round(held, 4), "tile_seconds": result.seconds,
                "bytes": result.bytes_read, "error": result.error,
                "receive_count": message.receive_count,
                **tile_metric(job.algorithm, result.seconds),
            },
        )  # fmt: skip
        return self.report(result, held)

    def abandon(self, message: Message, reason: str) -> Outcome:
        """The job is given up (a permanent error, its last attempt failed, or workers died on
        every delivery): its tile fails with `reason`, so its pair still finishes."""
        return self.report(failed_result(parse_message(message.body, TileJob), reason))

    def report(self, result: TileResult, held_seconds: float = 0.0) -> Outcome:
        # The result's own send is counted before it is made, so that it travels with it.
        self.meter.count("sqs_send", sqs_send_requests([result.model_dump_json()]))
        usage = result.usage + self.size.held(held_seconds) + self.meter.take()
        self.results.send([result.model_copy(update={"usage": usage}).model_dump_json()])
        return ACK if result.status == "done" else dead_letter(result.error or "failed")
