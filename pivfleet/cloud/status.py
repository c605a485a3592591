"""`pivfleet status`: what a cloud run has done, read from what its roles stored."""

from __future__ import annotations

import time
from dataclasses import dataclass

from pivfleet.cloud.dead_letters import dead_jobs
from pivfleet.cloud.deployment import Deployment
from pivfleet.core.cost import describe_cost
from pivfleet.core.keys import bucket_keys, current_generation
from pivfleet.core.plan import RunPlan
from pivfleet.core.progress import Counts, progress_line
from pivfleet.core.summary import PairStatus, RunSummary
from pivfleet.roles.reconciler import STALE_SECONDS, Reconciler
from pivfleet.roles.storage import read_many


@dataclass(frozen=True)
class RunStatus:
    run: str
    plan: RunPlan | None
    tiles_done: int
    pairs: list[PairStatus]
    summary: RunSummary | None
    stalled: str | None = None
    """What a run that stopped making progress waits for (the reconciler's finding)."""

    @property
    def finished(self) -> bool:
        return self.summary is not None

    def line(self) -> str:
        if self.summary is not None and self.summary.status == "rejected":
            return f"{self.run}: rejected: {self.summary.message}"
        if self.plan is None:
            return f"{self.run}: {self.stalled_or('waiting for the dispatcher')}"
        tiles = sum(p.tile_count for p in self.plan.pairs)
        failed = sum(p.status != "done" for p in self.pairs)
        elapsed = time.time() - self.plan.created_at
        counts = Counts(len(self.plan.pairs), tiles, len(self.pairs), self.tiles_done, failed)
        text = f"{self.run}: {progress_line(counts, elapsed)}"
        if self.summary is not None:
            text += (
                f" — {self.summary.status}: {self.summary.pairs_done} done, "
                f"{self.summary.pairs_partial} partial, {self.summary.pairs_failed} failed"
            )
        return f"{text} — stalled: {self.stalled}" if self.stalled else text

    def cost_line(self) -> str | None:
        """What the finished run used and would cost (`core/cost.py`); None before."""
        summary = self.summary
        if summary is None or summary.usage is None or summary.cost is None:
            return None
        return describe_cost(summary.usage.total, summary.cost)

    def failures(self) -> list[str]:
        """One line per pair that did not finish `done`, with its reasons."""
        pairs = self.summary.pairs if self.summary is not None else self.pairs
        return [
            f"  {p.pair}: {p.status}: {'; '.join(p.errors) or 'no reason recorded'}"
            for p in pairs
            if p.status != "done"
        ]

    def stalled_or(self, waiting: str) -> str:
        return f"stalled: {self.stalled}" if self.stalled else waiting


def read_status(deployment: Deployment, run: str) -> RunStatus:
    deployment.check_run(run)
    store = deployment.outputs()
    keys = bucket_keys(run, current_generation(store, run) or "none")
    summary = plan = None
    if store.exists(keys.summary()):
        summary = RunSummary.model_validate_json(store.get(keys.summary()))
    if store.exists(keys.plan()):
        plan = RunPlan.model_validate_json(store.get(keys.plan()))
    tiles = len(store.list(f"{keys.work}/results/"))
    # In parallel: one GET at a time, a 1,000-pair run's statuses are 1,000 round trips.
    records = read_many(store, store.list(keys.pair_statuses()))
    pairs = [PairStatus.model_validate_json(record) for record in records]
    stalled = None
    if summary is None:
        finding = reconciler(deployment).examine(run)
        stalled = finding.detail if finding.state == "stalled" else None
    return RunStatus(run, plan, tiles, pairs, summary, stalled)


def reconciler(deployment: Deployment, stale_seconds: float = STALE_SECONDS) -> Reconciler:
    return Reconciler(
        deployment.inputs(),
        deployment.outputs(),
        deployment.dispatcher(),
        lambda plan: dead_jobs(deployment, plan),
        stale_seconds,
    )
