"""The collector: record each tile result, stitch a pair when all its tiles are in, summarise.

Stateless by design: every fact lives in the work store, so any number of collectors (or a
Lambda) can run, and a duplicate result only rewrites the same record. Final writes are
put-if-absent, so outputs are written exactly once.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass

from pivfleet.core.cost import RunUsage, total
from pivfleet.core.errors import PoisonMessageError
from pivfleet.core.keys import OUTPUT_SUFFIXES, STEP_RECORD_SUFFIX, bucket_keys
from pivfleet.core.messages import TileResult, parse_message, send_jobs
from pivfleet.core.plan import PairPlan, RunPlan, plan_step_jobs
from pivfleet.core.ports import (
    ACK,
    BlobStore,
    JobSender,
    JobsQueueFinder,
    Message,
    Outcome,
    dead_letter,
    sender,
)
from pivfleet.core.stitching import stitch_tiles
from pivfleet.core.summary import PairStatus, RunSummary, summarise
from pivfleet.core.vectors import Vectors, decode_vectors
from pivfleet.roles.metrics import Meter, metered_sender, metered_storage, recorded_usage
from pivfleet.roles.outputs import RunOutputs
from pivfleet.roles.rounds import PassRounds
from pivfleet.roles.steps import Step, StepResults, mark, pair_steps
from pivfleet.roles.storage import RunStorage, read_many

log = logging.getLogger(__name__)
PLANS_CACHED = 32


@dataclass(frozen=True)
class Collected:
    """What one result finished: its pair (when it was the pair's last tile), and the run."""

    pair: PairStatus | None = None
    summary: RunSummary | None = None


@dataclass
class Collector:
    """Turns one run's tile results into pair outputs and a run summary."""

    storage: RunStorage
    plan: RunPlan
    send: JobSender
    """The run's jobs queue: pass-synchronous pairs send each next pass's jobs there."""

    def __post_init__(self) -> None:
        # Counts what this collector does for the run: written with each pair's status.
        self.meter = Meter()
        self.storage = metered_storage(self.storage, self.meter)
        self.send = metered_sender(self.send, self.meter)
        self.steps = StepResults(self.storage.work)
        self.rounds = PassRounds(self.storage, self.plan, self.send, self.steps)
        self.outputs = RunOutputs(self.storage, self.plan)
        self.rejected_bits = [bit for bit, p in enumerate(self.plan.pairs) if p.error]

    def prepare(self, results: list[TileResult]) -> None:
        """Record a batch of results at once, step by step (`StepResults.add_batch`)."""
        keys = self.storage.keys
        batches: dict[Step, list[tuple[str, TileResult]]] = {}
        for result in results:
            if result.step is not None:  # an image step's result is collected alone
                continue
            pair = self.plan.pair(result.pair)
            step = pair_steps(keys, pair)[result.pass_index or 0]
            record = keys.record(pair.name, result.pass_index, result.tile)
            batches.setdefault(step, []).append((record, result))
        for step, batch in batches.items():
            self.steps.add_batch(step, batch)

    def collect(self, result: TileResult) -> Collected:
        """Record `result`; finish its pair, and then the run, when it was the last one."""
        if result.step is not None:
            return self.collect_step(result)
        if result.pass_index is not None:
            return self.collect_pass(result)
        keys, pair = self.storage.keys, self.plan.pair(result.pair)
        [step] = pair_steps(keys, pair)
        if not self.steps.add(step, keys.record(pair.name, None, result.tile), result):
            return Collected()
        if self.storage.is_finished(pair.name):
            # A redelivery: if a collector died after the pair and before the run's summary,
            # this is the event that finishes the run.
            return Collected(summary=self.finish_run(pair.name))
        results = self.steps.results(step)
        status = tiles_status(pair, [r for r, _ in results])
        vectors = None
        if status.status != "failed":
            blocks = [(r.core, decode_vectors(b) if b else None) for r, b in results]
            vectors = stitch_tiles(pair.grid_shape, blocks)
        self.steps.forget(step)
        return Collected(self.finish_pair(pair, status, vectors), self.finish_run(pair.name))

    def collect_pass(self, result: TileResult) -> Collected:
        finished = self.rounds.collect(result)
        if finished is None:
            return Collected()
        if finished.status is None:  # a redelivery, as in `collect`
            return Collected(summary=self.finish_run(result.pair))
        pair = self.plan.pair(result.pair)
        status = self.finish_pair(pair, finished.status, finished.vectors)
        return Collected(status, self.finish_run(pair.name))

    def collect_step(self, result: TileResult) -> Collected:
        """An image step's result: the pair's next jobs (the next step's, or its PIV jobs
        after the last), sent once; a failed step fails the pair."""
        work, keys, pair = self.storage.work, self.storage.keys, self.plan.pair(result.pair)
        assert result.step is not None
        if self.storage.is_finished(pair.name):
            return Collected(summary=self.finish_run(pair.name))
        work.put(keys.step_record(pair.name, result.step), result.model_dump_json().encode())
        if result.status == "failed":
            status = step_failure(pair, result, self.plan.spec.steps[result.step].algorithm)
            return Collected(self.finish_pair(pair, status, None), self.finish_run(pair.name))
        if not work.exists(keys.step_sent(pair.name, result.step)):
            jobs = plan_step_jobs(self.plan, pair, result.step + 1)
            send_jobs(self.send, jobs)
            work.put_if_absent(keys.step_sent(pair.name, result.step), str(len(jobs)).encode())
        return Collected()

    def with_steps(self, status: PairStatus) -> PairStatus:
        """`status` with what its pair's image steps cost added."""
        work, keys = self.storage.work, self.storage.keys
        listed = work.list(keys.step_records(status.pair))
        records = [k for k in listed if k.endswith(STEP_RECORD_SUFFIX)]
        steps = [TileResult.model_validate_json(r) for r in read_many(self.storage.work, records)]
        return status.model_copy(
            update={
                "usage": total([status.usage, *(r.usage for r in steps)]),
                "tile_seconds": round(status.tile_seconds + sum(r.seconds for r in steps), 4),
            }
        )

    def finish_pair(
        self, pair: PairPlan, status: PairStatus, vectors: Vectors | None
    ) -> PairStatus:
        """Write the pair's outputs (the current generation's only), then its status."""
        if vectors is not None and self.is_current():
            self.outputs.write_pair(pair, vectors)
        if self.plan.spec.steps:
            status = self.with_steps(status)
        status = status.model_copy(update={"collector_usage": self.meter.take()})
        key = self.storage.keys.pair_status(pair.name)
        self.storage.work.put_if_absent(key, status.model_dump_json().encode())
        return status

    def is_current(self) -> bool:
        """Only the run's current generation writes outputs: a resubmission supersedes the
        earlier one, whose late results then change nothing the user sees."""
        keys = self.storage.keys
        try:
            return self.storage.work.get(keys.current()).decode() == keys.generation
        except KeyError:
            return True

    def give_up(self, result: TileResult, reason: str) -> Collected:
        """`result` cannot be collected (its pair's outputs cannot be written): the pair
        fails with `reason` and anything half-written of it is removed, so the run finishes."""
        keys = self.storage.keys
        if self.storage.is_finished(result.pair):  # its outputs are whole: keep them
            return Collected(summary=self.finish_run(result.pair))
        self.storage.outputs.delete([keys.output(result.pair, s) for s in OUTPUT_SUFFIXES])
        status = PairStatus(
            pair=result.pair, status="failed", tiles=result.tile_count,
            errors=[f"collecting tile {result.tile} failed: {reason}"],
            collector_usage=self.meter.take(),
        )  # fmt: skip
        if not self.storage.work.put_if_absent(
            keys.pair_status(result.pair), status.model_dump_json().encode()
        ):
            return Collected(summary=self.finish_run(result.pair))
        return Collected(status, self.finish_run(result.pair))

    def finish_run(self, pair: str | None = None) -> RunSummary | None:
        """Summarise the run once every pair has its status. `pair`: the pair whose status was
        just written or found; its bit in the pairs tally says, in two requests, whether every
        pair may be done, so the statuses are listed and read once per run, not per pair.
        None: list them at once (a run with no jobs, the reconciler)."""
        if pair is not None and not self.all_pairs_finished(pair):
            return None
        if self.summary_written() and self.outputs.run_written():
            return None  # a result redelivered after the run finished
        work, keys = self.storage.work, self.storage.keys
        records = work.list(keys.pair_statuses())
        if len(records) < len(self.plan.pairs):
            return None
        statuses = [PairStatus.model_validate_json(d) for d in read_many(work, records)]
        wall_seconds = round(time.time() - self.plan.created_at, 3)
        roles = RunUsage(
            dispatcher=recorded_usage(work, keys.dispatcher_usage()), collector=self.meter.take()
        )
        summary = summarise(
            self.plan.spec.run, statuses, wall_seconds, roles, self.plan.spec.prices
        ).model_copy(update={"generation": self.plan.generation, "spec": self.plan.spec})
        if not self.is_current():
            log.info("superseded: not writing its summary", extra={"run": summary.run})
            return None
        self.storage.outputs.put_if_absent(
            keys.summary(), summary.model_dump_json(indent=2).encode()
        )
        try:
            self.outputs.write_run(statuses)
        except Exception:  # a by-product: `pivfleet results --merged` assembles it later
            log.exception("run.nc not assembled", extra={"run": summary.run})
        return summary

    def summary_written(self) -> bool:
        """This generation's summary is written: the run is finished, its statuses need not
        be listed and read again, nor its run dataset assembled again."""
        try:
            written = RunSummary.model_validate_json(
                self.storage.outputs.get(self.storage.keys.summary())
            )
        except (KeyError, ValueError):  # none yet, or a file that is not a summary
            return False
        return written.generation == self.plan.generation

    def all_pairs_finished(self, pair: str) -> bool:
        """Set `pair`'s bit in the pairs tally (its status exists: a bit is never set before);
        whether every pair's is set. A redelivered result sets it again, so a collector that
        died between the status and the bit loses nothing. The pairs rejected at planning are
        set with every mark: their statuses were written before any job was sent."""
        bits = [self.plan.position(pair), *self.rejected_bits]  # a pair's bit is its position
        return mark(self.storage.work, self.storage.keys.pairs_tally(), bits, len(self.plan.pairs))


def tiles_status(pair: PairPlan, results: list[TileResult]) -> PairStatus:
    """A pair whose jobs each ran every pass: failed when all failed, partial when some did."""
    failed = sorted(r.tile for r in results if r.status == "failed")
    pixels = pair.image_shape[0] * pair.image_shape[1]
    return PairStatus(
        pair=pair.name,
        status="failed" if len(failed) == len(results) else "partial" if failed else "done",
        tiles=len(results),
        failed_tiles=failed,
        errors=sorted({r.error for r in results if r.error}),
        tile_seconds=round(sum(r.seconds for r in results), 4),
        work_factor=round(sum(r.pixels_read for r in results) / max(pixels, 1), 4),
        usage=total([r.usage for r in results]),
    )


def step_failure(pair: PairPlan, result: TileResult, algorithm: str) -> PairStatus:
    assert result.step is not None
    return PairStatus(
        pair=pair.name,
        status="failed",
        tiles=0,
        errors=[f"image step {result.step + 1} ({algorithm}): {result.error}"],
    )


def record_failed_pairs(plan: RunPlan, storage: RunStorage) -> None:
    """Pairs rejected at planning are finished at once: they will get no tile results."""
    for status in plan.failed_statuses():
        key = storage.keys.pair_status(status.pair)
        storage.work.put_if_absent(key, status.model_dump_json().encode())


class ResultCollector:
    """The results queue's handler: results of any run in one bucket, each run's plan read once."""

    def __init__(self, bucket: BlobStore, jobs_queue: JobsQueueFinder) -> None:
        self.bucket = bucket
        self.jobs_queue = jobs_queue
        self._collectors: OrderedDict[tuple[str, str], Collector] = OrderedDict()

    def prepare(self, messages: list[Message]) -> None:
        """Record a batch's results at once, run by run; one that does not parse is left to
        `handle`."""
        runs: dict[tuple[str, str], list[TileResult]] = {}
        for message in messages:
            with contextlib.suppress(PoisonMessageError):
                result = parse_message(message.body, TileResult)
                runs.setdefault((result.run, result.generation), []).append(result)
        for (run, generation), results in runs.items():
            self.collector_for(run, generation).prepare(results)

    def handle(self, message: Message) -> Outcome:
        result = parse_message(message.body, TileResult)
        collected = self.collector_for(result.run, result.generation).collect(result)
        self.log_collected(result, collected)
        return ACK

    def abandon(self, message: Message, reason: str) -> Outcome:
        """The result's pair fails with `reason`, so its run still finishes."""
        result = parse_message(message.body, TileResult)
        collector = self.collector_for(result.run, result.generation)
        self.log_collected(result, collector.give_up(result, reason))
        return dead_letter(reason)

    @staticmethod
    def log_collected(result: TileResult, collected: Collected) -> None:
        if collected.pair is not None:
            log.info(
                "pair finished",
                extra={"run": result.run, "pair": result.pair, "status": collected.pair.status},
            )
        if collected.summary is not None:
            log.info("run finished", extra={"run": result.run, "status": collected.summary.status})

    def collector_for(self, run: str, generation: str) -> Collector:
        if (run, generation) not in self._collectors:
            keys = bucket_keys(run, generation)
            plan = RunPlan.model_validate_json(self.bucket.get(keys.plan()))
            storage = RunStorage(self.bucket, self.bucket, keys)
            collector = Collector(storage, plan, sender(self.jobs_queue))
            self._collectors[(run, generation)] = collector
            while len(self._collectors) > PLANS_CACHED:
                self._collectors.popitem(last=False)
        self._collectors.move_to_end((run, generation))
        return self._collectors[(run, generation)]
