"""The dispatcher: a `run.json` notification → the run's plan → its tile jobs on the queue of
its algorithm. The dispatcher Lambda, its local poller and `pivfleet run` all call
`dispatch_run`."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote_plus

from pydantic import ValidationError

from pivfleet.algorithms.registry import check_run, min_halo_pixels, tile_mode
from pivfleet.core.errors import ImageReadError, PivfleetError, PoisonMessageError
from pivfleet.core.imaging import (
    FrameHeader,
    check_texture,
    decode_frame,
    is_image_name,
    read_header,
)
from pivfleet.core.keys import RunKeys, bucket_keys, new_generation, upload_generation
from pivfleet.core.messages import send_jobs
from pivfleet.core.plan import (
    FrameDecoder,
    HeaderReader,
    PairPlan,
    RunInput,
    RunPlan,
    plan_jobs,
    plan_run,
)
from pivfleet.core.ports import (
    ACK,
    BlobStore,
    JobSender,
    JobsQueueFinder,
    Message,
    Outcome,
    defer_by,
    sender,
)
from pivfleet.core.spec import RESERVED_RUN_IDS, RunSpec, describe_validation
from pivfleet.core.strips import FRAME_STRIP_PIXELS, narrowest
from pivfleet.core.summary import rejected
from pivfleet.core.topology import RUN_SPEC_FILENAME
from pivfleet.roles.blob_reader import BlobReader
from pivfleet.roles.collector import Collector, record_failed_pairs
from pivfleet.roles.consumer import DeadLetterAbandoned
from pivfleet.roles.metrics import Meter, MeteredStore, metered_sender
from pivfleet.roles.storage import RunStorage, in_parallel
from pivfleet.roles.strip_store import StripStore

log = logging.getLogger(__name__)
SETTLE_SECONDS = 10
"""Frames may still be arriving (`aws s3 sync` uploads run.json in any order): a run whose
folder changed less than this ago, or that has fewer frames than run.json declares, is
planned later."""
SETTLE_MAX_SECONDS = 3600
"""After this long since run.json, the run is planned with the frames that are there."""


class FramesArrivingError(Exception):
    """Not yet: the run's frames are still being uploaded."""


def dispatch_run(
    spec: RunSpec,
    frames: RunInput,
    storage: RunStorage,
    send: JobSender,
    meter: Meter | None = None,
) -> RunPlan | None:
    """Plan `spec` once and send its jobs; None if they were sent already (a redelivery).
    `meter`: the one the caller counts its frame reads, stores and queue with; what it holds
    is recorded for the run's summary once the jobs are sent.

    Each step is resumable from the store: a plan without its jobs-sent marker (a dispatcher
    killed in between) has its jobs sent again, which is harmless since job keys are
    deterministic."""
    work, keys = storage.work, storage.keys
    if work.exists(keys.jobs_sent()):
        return None
    plan = stored_plan(storage)
    if plan is None:
        mode, halo = tile_mode(spec.algorithm), min_halo_pixels(spec.algorithm)
        planned = plan_run(spec, frames, keys.generation, mode, halo)
        plan = stage_frames(planned, frames.decode, storage)
        if not work.put_if_absent(keys.plan(), plan.model_dump_json().encode()):
            plan = stored_plan(storage) or plan  # another dispatcher planned first: use its plan
    record_failed_pairs(plan, storage)
    jobs = plan_jobs(plan)
    send_jobs(send, jobs)
    if meter is not None:
        work.put(keys.dispatcher_usage(), meter.take().model_dump_json().encode())
    work.put_if_absent(keys.jobs_sent(), str(len(jobs)).encode())
    if not jobs:
        Collector(storage, plan, send).finish_run()
    return plan


def stage_frames(plan: RunPlan, decode: FrameDecoder, storage: RunStorage) -> RunPlan:
    """Copy each pass-synchronous pair's frames into strips before its plan is stored, so its
    jobs read about their crops only; a pair whose frames cannot be decoded fails here. With
    image steps, the last step writes the strips instead."""
    if plan.spec.steps:
        return plan
    pairs = [stage_pair(p, decode, storage) if p.synchronous else p for p in plan.pairs]
    return plan.model_copy(update={"pairs": pairs})


def stage_pair(pair: PairPlan, decode: FrameDecoder, storage: RunStorage) -> PairPlan:
    strips = StripStore(storage.work)
    try:
        for side, name in (("a", pair.frame_a), ("b", pair.frame_b)):
            frame = decode(name)
            check_texture(frame, name)
            key = storage.keys.frame_strips(pair.name, side)
            strips.write(key, narrowest(frame), FRAME_STRIP_PIXELS)
    except PivfleetError as error:
        return pair.model_copy(update={"error": str(error), "tile_count": 0, "pass_tiles": ()})
    return pair


def stored_plan(storage: RunStorage) -> RunPlan | None:
    try:
        return RunPlan.model_validate_json(storage.work.get(storage.keys.plan()))
    except KeyError:
        return None


def read_headers(store: BlobStore, names: list[str]) -> HeaderReader:
    """A reader of the frames' headers: at its first call, every frame's, in parallel, each
    from its first bytes (`BlobReader`: a ranged GET or two, a HEAD for a TIFF) instead of the
    whole frame; none when the run is planned already. It raises what reading that frame's
    header raised, so a bad frame fails its pair only."""

    def attempt(name: str) -> FrameHeader | ImageReadError:
        reader = BlobReader(store, name)
        try:
            return read_header(io.BufferedReader(reader), name)
        except ImageReadError as error:
            if reader.failure is not None:  # the store's, not the frame's: retried as before
                raise reader.failure from None
            return error

    found: dict[str, FrameHeader | ImageReadError] = {}

    def read(name: str) -> FrameHeader:
        if not found:
            found.update(zip(names, in_parallel(attempt, names), strict=True))
        header = found[name]
        if isinstance(header, ImageReadError):
            raise header
        return header

    return read


@dataclass(frozen=True)
class Upload:
    """One object the input bucket notified: its key and the generation its upload starts."""

    key: str
    generation: str


def notified_uploads(body: str) -> list[Upload]:
    """The uploads in an S3 notification (keys URL-encoded, `+` a space); none in
    `s3:TestEvent`. A redelivered notification names the same generation."""
    try:
        records = json.loads(body).get("Records", [])
        return [
            Upload(
                unquote_plus(r["s3"]["object"]["key"]),
                upload_generation(r["eventTime"], r["s3"]["object"].get("sequencer", "")),
            )
            for r in records
        ]
    except (ValueError, AttributeError, KeyError, TypeError) as error:
        raise PoisonMessageError(f"not an S3 notification: {error!r}") from None


def run_folder(key: str) -> str | None:
    """`<run>/run.json` → `<run>`; anything else is not ours, nor a reserved run's (claiming
    it would delete the output bucket's folder of that name before run.json is read)."""
    folder, _, name = key.rpartition("/")
    ours = name == RUN_SPEC_FILENAME and folder and "/" not in folder
    if ours and folder in RESERVED_RUN_IDS:
        log.warning("reserved run id: ignored", extra={"run": folder})
        return None
    return folder if ours else None


@dataclass
class Dispatcher(DeadLetterAbandoned):
    """Dispatches the runs whose `run.json` lands in `inputs`; plans and outputs go to `outputs`."""

    inputs: BlobStore
    outputs: BlobStore
    jobs_queue: JobsQueueFinder
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        # One dispatch at a time: what the meter counts during one is that run's.
        self.meter = Meter()
        self.inputs = MeteredStore(self.inputs, self.meter)
        self.outputs = MeteredStore(self.outputs, self.meter)

    def handle(self, message: Message) -> Outcome:
        outcomes = [self.dispatch_key(u.key, u.generation) for u in notified_uploads(message.body)]
        return defer_by(SETTLE_SECONDS) if any("deferred" in o for o in outcomes) else ACK

    def dispatch_key(self, key: str, generation: str | None = None) -> dict[str, object]:
        """Dispatch the run whose run.json is `key` as `generation` (a new one when None);
        a bad spec is recorded as rejected."""
        folder = run_folder(key)
        self.meter.take()  # what came before (another run, a deferred attempt) is not this one's
        if folder is None:
            log.debug("ignoring unrelated key", extra={"key": key})
            return {"ignored": key}
        keys = bucket_keys(folder, generation or new_generation())
        if not self.claim(keys):
            log.info(
                "superseded upload ignored", extra={"run": folder, "generation": keys.generation}
            )
            return {"superseded": folder}
        storage = RunStorage(self.outputs, self.outputs, keys)
        try:
            plan = self.dispatch_folder(key, folder, storage)
        except FramesArrivingError as waiting:
            log.info("frames still arriving", extra={"run": folder, "waiting": str(waiting)})
            return {"deferred": folder, "waiting": str(waiting)}
        except PivfleetError as error:
            log.warning("run rejected", extra={"run": folder, "reason": str(error)})
            summary = rejected(folder, str(error)).model_copy(
                update={"generation": keys.generation}
            )
            self.outputs.put_if_absent(keys.summary(), summary.model_dump_json().encode())
            return {"rejected": folder, "reason": str(error)}
        if plan is None:
            return {"duplicate": folder}
        tiles = sum(p.tile_count for p in plan.pairs)
        log.info("run dispatched", extra={"run": folder, "pairs": len(plan.pairs), "tiles": tiles})
        return {"dispatched": folder, "tiles": tiles}

    def claim(self, keys: RunKeys) -> bool:
        """Make `keys.generation` the run's current one, removing the outputs of the one before
        (a resubmission replaces them completely); False for an upload older than the current."""
        try:
            current: str | None = self.outputs.get(keys.current()).decode()
        except KeyError:
            current = None
        if current is not None and current >= keys.generation:
            return current == keys.generation
        self.outputs.put(keys.current(), keys.generation.encode())
        stale = self.outputs.list(keys.outputs_prefix)
        self.outputs.delete(stale)
        if current is not None:
            log.info("run resubmitted", extra={"run": keys.run, "replaced_outputs": len(stale)})
        return True

    def dispatch_folder(self, key: str, folder: str, storage: RunStorage) -> RunPlan | None:
        spec = self.read_spec(key, folder)
        # Every step's queue found now: one without a queue rejects the run before it starts.
        queues = {algorithm: self.jobs_queue(algorithm) for algorithm in spec.algorithms}
        names = [k for k in self.inputs.list(f"{folder}/") if k != key]
        if not storage.work.exists(storage.keys.plan()):
            # Before planning only: a redelivery must not reject a run already under way.
            check_run(spec)  # parameters an algorithm refuses reject the run, not each pair
            self.wait_for_frames(spec, key, names)
        frames = RunInput(
            names,
            read_headers(self.inputs, [n for n in names if is_image_name(n)]),
            lambda name: decode_frame(self.inputs.get(name), name, spec.max_frame_pixels),
            f"{folder}/",
        )
        send = metered_sender(sender(queues.__getitem__), self.meter)
        return dispatch_run(spec, frames, storage, send, self.meter)

    def wait_for_frames(self, spec: RunSpec, key: str, names: list[str]) -> None:
        """FramesArrivingError while the run's frames are still being uploaded."""
        now, folder = self.clock(), key.rpartition("/")[0]
        since_spec = now - (self.inputs.modified(key) or now)
        count = sum(is_image_name(name) for name in names)
        if spec.frames is not None and count < spec.frames:
            if since_spec < SETTLE_MAX_SECONDS:
                raise FramesArrivingError(f"{count} of the {spec.frames} frames run.json declares")
            raise PivfleetError(
                f"{key} declares {spec.frames} frames but {count} arrived in "
                f"{SETTLE_MAX_SECONDS} s: upload the rest, then upload run.json again"
            )
        quiet = now - (self.inputs.newest(f"{folder}/") or 0.0)
        if spec.frames is None and quiet < SETTLE_SECONDS and since_spec < SETTLE_MAX_SECONDS:
            raise FramesArrivingError(f"the folder changed {quiet:.0f} s ago")

    def read_spec(self, key: str, folder: str) -> RunSpec:
        try:
            spec = RunSpec.model_validate_json(self.inputs.get(key))
        except ValidationError as error:
            raise PivfleetError(f"{key}: {describe_validation(error)}") from None
        if spec.run != folder:
            raise PivfleetError(
                f"{key} says run {spec.run!r} but lies under {folder}/: make them match"
            )
        return spec
