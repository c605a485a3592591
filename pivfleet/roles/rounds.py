"""Pass-synchronous pairs, the collector's side: record each pass-k result; when every job of
the pass is in, reduce the pass on the whole grid (validation, replacement, the next
predictor), store the predictor and send pass k+1's jobs once; the last pass gives the pair's
vectors.

Every step is idempotent and resumable from the store: a collector killed between two passes
reduces the pass again when the last result is redelivered, and the pass's `jobs-sent` marker
keeps its next jobs from being sent twice once they were."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pivfleet.core.cost import total
from pivfleet.core.messages import TileResult, send_jobs
from pivfleet.core.plan import PairPlan, RunPlan, plan_pass_jobs
from pivfleet.core.ports import JobSender
from pivfleet.core.stitching import mark_missing
from pivfleet.core.strips import PREDICTOR_STRIP_POINTS
from pivfleet.core.summary import PairStatus, PassStatus
from pivfleet.core.tiling import Box, pass_crop_span, pass_reach_pixels
from pivfleet.core.vectors import Vectors
from pivfleet.engine.field import NoValidVectorError, PassField
from pivfleet.engine.rounds import (
    decode_raw,
    final_vectors,
    next_predictor,
    predictor_reach,
    reduce_pass,
    stacked,
)
from pivfleet.roles.steps import StepResults, pair_steps
from pivfleet.roles.storage import RunStorage, read_many
from pivfleet.roles.strip_store import StripStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PairVectors:
    """A finished pass-synchronous pair: its vectors (None when it failed) and its status
    (None when it had finished before: the result was a redelivery)."""

    vectors: Vectors | None
    status: PairStatus | None


@dataclass
class PassRounds:
    storage: RunStorage
    plan: RunPlan
    send: JobSender
    steps: StepResults

    def is_reduced(self, pair: str, index: int) -> bool:
        """Pass `index` was reduced already (its next pass was sent)."""
        last = len(self.plan.spec.piv.windows) - 1
        keys = self.storage.keys
        return index < last and self.storage.work.exists(keys.pass_sent(pair, index + 1))

    def collect(self, result: TileResult) -> PairVectors | None:
        """Record `result`; reduce its pass when it completes it; the pair when it was last.
        A result of a pass already reduced (a late duplicate) changes nothing; one of a pair
        already finished gives a status of None."""
        index, pair = result.pass_index, self.plan.pair(result.pair)
        assert index is not None
        step = pair_steps(self.storage.keys, pair)[index]
        record = self.storage.keys.record(pair.name, index, result.tile)
        if not self.steps.add(step, record, result):
            return None
        if self.is_reduced(pair.name, index):
            log.info(
                "late result of a reduced pass ignored",
                extra={"run": result.run, "pair": pair.name, "pass": index},
            )
            return None
        if self.storage.is_finished(pair.name):
            return PairVectors(None, None)
        finished = self.reduce(pair, index, self.steps.results(step))
        self.steps.forget(step)
        return finished

    def reduce(
        self, pair: PairPlan, index: int, results: list[tuple[TileResult, bytes | None]]
    ) -> PairVectors | None:
        status = pass_status(self.plan, pair, index, [r for r, _ in results])
        blocks = [(r.core, decode_raw(blob)) for r, blob in results if blob is not None]
        if not blocks:
            return self.fail(pair, status, f"every job of pass {index + 1} failed")
        piv, shape = self.plan.spec.piv, pair.image_shape
        try:
            field = reduce_pass(blocks, piv, index, shape)
        except NoValidVectorError as error:
            return self.fail(pair, status, f"pass {index + 1}: {error}")
        if index == len(piv.windows) - 1:
            return self.finish(pair, field, status)
        self.start_next_pass(pair, index, field, status)
        return None

    def start_next_pass(
        self, pair: PairPlan, index: int, field: PassField, status: PassStatus
    ) -> None:
        """Store the next predictor and this pass's status, then send the next jobs once."""
        work, keys, piv = self.storage.work, self.storage.keys, self.plan.spec.piv
        predictor = next_predictor(field, piv, index, pair.image_shape)
        uv = stacked(predictor)
        StripStore(work).write(keys.predictor(pair.name, index + 1), uv, PREDICTOR_STRIP_POINTS)
        work.put(keys.pass_summary(pair.name, index), status.model_dump_json().encode())
        if work.exists(keys.pass_sent(pair.name, index + 1)):
            return
        reach = pass_reach_pixels(piv, index + 1, predictor_reach(predictor))
        jobs = plan_pass_jobs(self.plan, pair, index + 1, reach)
        send_jobs(self.send, jobs)
        work.put_if_absent(keys.pass_sent(pair.name, index + 1), str(len(jobs)).encode())
        log.info(
            "pass sent",
            extra={"run": self.plan.spec.run, "pair": pair.name, "pass": index + 2,
                   "jobs": len(jobs), "reach_px": reach},
        )  # fmt: skip

    def earlier_passes(self, pair: PairPlan, index: int) -> list[PassStatus]:
        keys = [self.storage.keys.pass_summary(pair.name, k) for k in range(index)]
        return [PassStatus.model_validate_json(d) for d in read_many(self.storage.work, keys)]

    def finish(self, pair: PairPlan, field: PassField, last: PassStatus) -> PairVectors:
        passes = [*self.earlier_passes(pair, last.index), last]
        missing = [box for p in passes for box in p.missing]
        vectors = mark_missing(final_vectors(field), missing, self.plan.spec.piv)
        return PairVectors(vectors, pair_status(pair, passes))

    def fail(self, pair: PairPlan, status: PassStatus, reason: str) -> PairVectors:
        passes = [*self.earlier_passes(pair, status.index), status]
        return PairVectors(None, pair_status(pair, passes, failure=reason))


def pass_status(plan: RunPlan, pair: PairPlan, index: int, results: list[TileResult]) -> PassStatus:
    """What pass `index`'s jobs did, read, and where their failures leave holes."""
    failed = sorted((r for r in results if r.status == "failed"), key=lambda r: r.tile)
    window, step = plan.spec.piv.windows[index], plan.spec.piv.steps[index]
    pixels = pair.image_shape[0] * pair.image_shape[1]
    return PassStatus(
        index=index,
        jobs=len(results),
        failed_tiles=[r.tile for r in failed],
        errors=sorted({r.error for r in failed if r.error}),
        seconds=round(sum(r.seconds for r in results), 4),
        work_factor=round(sum(r.pixels_read for r in results) / pixels, 4),
        missing=[window_pixels(r.core, pair.image_shape, window, step) for r in failed],
        usage=total([r.usage for r in results]),
    )


def window_pixels(core: Box, image_shape: tuple[int, int], window: int, step: int) -> Box:
    """The pixels under the windows of grid block `core`: its crop with no reach."""
    y0, y1 = pass_crop_span((core.y0, core.y1), image_shape[0], window, step, 0)
    x0, x1 = pass_crop_span((core.x0, core.x1), image_shape[1], window, step, 0)
    return Box(y0=y0, y1=y1, x0=x0, x1=x1)


def pair_status(pair: PairPlan, passes: list[PassStatus], failure: str | None = None) -> PairStatus:
    """The pair's status from its passes: failed with `failure`, partial when a job failed."""
    state = "failed" if failure else "partial" if any(p.failed_tiles for p in passes) else "done"
    errors = {e for p in passes for e in p.errors} | ({failure} if failure else set())
    return PairStatus(
        pair=pair.name,
        status=state,
        tiles=sum(p.jobs for p in passes),
        errors=sorted(errors),
        tile_seconds=round(sum(p.seconds for p in passes), 4),
        work_factor=round(sum(p.work_factor for p in passes) / len(passes), 4),
        passes=passes,
        usage=total([p.usage for p in passes]),
    )
