"""The reconciler: finds runs that stopped making progress, says what each is waiting for, and
re-drives the step that is missing.

A run's progress is a chain of stored facts (run.json → current generation → plan → jobs-sent
marker → result records → pair statuses → summary). Each step the reconciler takes is one a
role would take and is idempotent, so running it beside live roles, or twice, is harmless.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pivfleet.core.keys import RunKeys, bucket_keys, current_generation
from pivfleet.core.messages import TileJob, TileResult
from pivfleet.core.plan import PairPlan, RunPlan
from pivfleet.core.ports import BlobStore, sender
from pivfleet.core.summary import RunSummary
from pivfleet.core.topology import RUN_SPEC_FILENAME
from pivfleet.roles.collector import Collector
from pivfleet.roles.dispatcher import Dispatcher, stored_plan
from pivfleet.roles.steps import pair_steps
from pivfleet.roles.storage import RunStorage
from pivfleet.roles.worker import failed_result

log = logging.getLogger(__name__)
STALE_SECONDS = 300.0
"""A step not taken this long after its predecessor is stalled (the dispatcher's Lambda
timeout; a poller's lease is far shorter)."""
DeadJobs = Callable[[RunPlan], list[tuple[TileJob, str]]]
"""A plan's jobs in its dead-letter queue, each with the reason it was dead-lettered."""
RunState = Literal["done", "running", "stalled", "missing"]


@dataclass(frozen=True)
class Finding:
    """What one run is waiting for, and what the reconciler did about it."""

    run: str
    state: RunState
    detail: str
    action: str = ""

    def line(self) -> str:
        text = f"{self.run}: {self.state}: {self.detail}"
        return f"{text} → {self.action}" if self.action else text


@dataclass
class Reconciler:
    inputs: BlobStore
    outputs: BlobStore
    dispatcher: Dispatcher
    dead_jobs: DeadJobs
    stale_seconds: float = STALE_SECONDS
    clock: Callable[[], float] = time.time

    def runs(self) -> list[str]:
        """Every run with a run.json in the input bucket."""
        found = self.inputs.folders("")
        return [run for run in found if self.inputs.exists(f"{run}/{RUN_SPEC_FILENAME}")]

    def reconcile(self, act: bool = True) -> list[Finding]:
        findings = [self.examine(run, act) for run in self.runs()]
        for finding in findings:
            if finding.state == "stalled":
                log.warning("stalled run", extra={"run": finding.run, "detail": finding.detail})
        return findings

    def examine(self, run: str, act: bool = False) -> Finding:
        """What `run` waits for; with `act`, re-drive the missing step."""
        generation = current_generation(self.outputs, run)
        if generation is None:
            return self.undispatched(run, act)
        keys = bucket_keys(run, generation)
        summary = self.summary(keys)
        if summary is not None:
            return Finding(run, "done", f"{summary.status} (generation {generation})")
        plan = stored_plan(RunStorage(self.outputs, self.outputs, keys))
        if plan is None or not self.outputs.exists(keys.jobs_sent()):
            return self.interrupted_dispatch(keys, plan, act)
        return self.collection(keys, plan, act)

    def summary(self, keys: RunKeys) -> RunSummary | None:
        try:
            summary = RunSummary.model_validate_json(self.outputs.get(keys.summary()))
        except KeyError:
            return None
        return summary if summary.generation in (None, keys.generation) else None

    def age(self, store: BlobStore, key: str) -> float:
        written = store.modified(key)
        return float("inf") if written is None else self.clock() - written

    def undispatched(self, run: str, act: bool) -> Finding:
        spec_key = f"{run}/{RUN_SPEC_FILENAME}"
        age = self.age(self.inputs, spec_key)
        if age == float("inf"):
            return Finding(run, "missing", f"no {spec_key} in the input bucket")
        if age < self.stale_seconds:
            return Finding(run, "running", "run.json uploaded; waiting for the dispatcher")
        if act:
            self.dispatcher.dispatch_key(spec_key)
        detail = f"run.json uploaded {age:.0f} s ago, never dispatched"
        return Finding(run, "stalled", detail, "dispatched it" if act else "")

    def interrupted_dispatch(self, keys: RunKeys, plan: RunPlan | None, act: bool) -> Finding:
        step = keys.current() if plan is None else keys.plan()
        detail = "notification taken, no plan" if plan is None else "plan written, jobs not sent"
        if self.age(self.outputs, step) < self.stale_seconds:
            return Finding(keys.run, "running", "dispatching")
        if act:
            self.dispatcher.dispatch_key(f"{keys.run}/{RUN_SPEC_FILENAME}", keys.generation)
        return Finding(keys.run, "stalled", detail, "dispatched it again" if act else "")

    def collection(self, keys: RunKeys, plan: RunPlan, act: bool) -> Finding:
        storage = RunStorage(self.outputs, self.outputs, keys)
        collector = Collector(storage, plan, sender(self.dispatcher.jobs_queue))
        records = set(self.outputs.list(f"{keys.work}/results/"))
        records |= set(self.outputs.list(f"{keys.work}/passes/"))
        records |= set(self.outputs.list(f"{keys.work}/steps/"))
        statuses = set(self.outputs.list(keys.pair_statuses()))
        if len(statuses) == len(plan.pairs):
            if act:
                collector.finish_run()
            detail = "every pair finished, summary missing"
            return Finding(keys.run, "stalled", detail, "wrote the summary" if act else "")
        dead = [
            (job, reason)
            for job, reason in self.dead_jobs(plan)
            if keys.record(job.pair, job.pass_index, job.tile.index, job.step) not in records
        ]
        if dead:
            return self.report_dead(collector, dead, act)
        return self.unfinished_pairs(collector, records, statuses, act)

    def report_dead(
        self, collector: Collector, dead: list[tuple[TileJob, str]], act: bool
    ) -> Finding:
        """Dead-lettered jobs never send a result: report them failed so their pairs end."""
        if act:
            for job, reason in dead:
                collector.collect(failed_result(job, f"dead-lettered: {reason}"))
        detail = f"{len(dead)} jobs in the dead-letter queue without a result"
        run = collector.plan.spec.run
        return Finding(run, "stalled", detail, "reported them failed" if act else "")

    def unfinished_pairs(
        self, collector: Collector, records: set[str], statuses: set[str], act: bool
    ) -> Finding:
        """Pairs with every result of a step in (their tiles, or a pass) but nothing after it:
        the collector that should have taken the step lost the result. Collecting one of the
        step's results again takes it."""
        keys, plan = collector.storage.keys, collector.plan
        waiting = [
            (pair, record)
            for pair in plan.pairs
            if pair.error is None and keys.pair_status(pair.name) not in statuses
            for record in [untaken_step(keys, pair, records, len(plan.spec.steps))]
            if record is not None
        ]
        if not waiting:
            jobs = sum(p.tile_count for p in plan.pairs)
            return Finding(keys.run, "running", f"{len(records)}/{jobs} results and markers in")
        if act:
            for _, record in waiting:
                collector.collect(TileResult.model_validate_json(self.outputs.get(record)))
        detail = f"{len(waiting)} pairs have every result of a step but not the next step"
        return Finding(keys.run, "stalled", detail, "took the step" if act else "")


def untaken_step(
    keys: RunKeys, pair: PairPlan, records: set[str], image_steps: int = 0
) -> str | None:
    """A result record of the pair's step that is complete but not followed up (an image
    step by its next-sent marker, the last step by a status, a pass by its next pass's
    jobs-sent marker), if any."""
    for index in range(image_steps):
        if keys.step_record(pair.name, index) not in records:
            return None
        if keys.step_sent(pair.name, index) not in records:
            return keys.step_record(pair.name, index)
    steps = pair_steps(keys, pair)
    for index, step in enumerate(steps):
        found = sorted(r for r in records if r.startswith(step.records))
        if len(found) < step.count:
            return None
        if index == len(steps) - 1 or keys.pass_sent(pair.name, index + 1) not in records:
            return found[0]
    return None
