"""What became of each pair and of the run: the records `status` and users read."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from pivfleet import __version__
from pivfleet.core.cost import Cost, Prices, RunUsage, Usage, estimate_cost, total
from pivfleet.core.spec import RunSpec
from pivfleet.core.tiling import Box

PairState = Literal["done", "partial", "failed"]
RunState = Literal["done", "partial", "failed", "rejected"]


class PassStatus(BaseModel):
    """One pass of a pass-synchronous pair: its jobs, what failed, what it read."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    index: int
    """0 for the first pass."""
    jobs: int
    failed_tiles: list[int] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)
    seconds: float = 0.0
    work_factor: float = 0.0
    """Pixels the pass's jobs read ÷ the pair's pixels."""
    missing: list[Box] = Field(default_factory=list)
    """Pixels under the windows of failed jobs: vectors there are flagged missing."""
    usage: Usage = Usage()
    """The pass's jobs', as their workers reported it."""


class PairStatus(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    pair: str
    status: PairState
    tiles: int = 0
    """Jobs the pair took (over every pass, for a pass-synchronous pair)."""
    failed_tiles: list[int] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)
    tile_seconds: float = 0.0
    work_factor: float | None = None
    """Pixels read by the pair's jobs ÷ the pair's pixels, per pass: 1.0 when each pixel is
    read once; tiles add their margins."""
    passes: list[PassStatus] = Field(default_factory=list)
    """Each pass of a pass-synchronous pair; empty when every job ran every pass."""
    usage: Usage = Usage()
    """The pair's jobs' (`core/cost.py`), as their workers reported it."""
    collector_usage: Usage = Usage()
    """What the collector that finished the pair used for the run since it last wrote a
    pair's status (so not only this pair's): the run's summary adds them up."""

    @property
    def failed_jobs(self) -> int:
        return len(self.failed_tiles) + sum(len(p.failed_tiles) for p in self.passes)


class RunSummary(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    run: str
    generation: str | None = None
    """The submission summarised: a resubmitted run gets a new one (see `core/keys.py`)."""
    status: RunState
    pairs_total: int = 0
    pairs_done: int = 0
    pairs_partial: int = 0
    pairs_failed: int = 0
    tiles: int = 0
    tiles_failed: int = 0
    tile_seconds: float = 0.0
    """CPU-side seconds spent in tiles, summed over workers."""
    work_factor: float | None = None
    """The pairs' mean work factor (see PairStatus)."""
    wall_seconds: float | None = None
    message: str | None = None
    pivfleet_version: str = __version__
    spec: RunSpec | None = None
    """The settings the run was processed with."""
    usage: RunUsage | None = None
    """What the run used, by role: worker time, requests, bytes (`core/cost.py`)."""
    cost: Cost | None = None
    """`usage` priced with the spec's `prices`: what the run would cost on AWS."""
    pairs: list[PairStatus] = Field(default_factory=list)


def summarise(
    run: str,
    statuses: list[PairStatus],
    wall_seconds: float | None,
    roles: RunUsage,
    prices: Prices,
) -> RunSummary:
    """The run's summary from its pairs' statuses; `roles`: the usage the statuses do not
    hold (the dispatcher's, the summarising collector's since its last pair)."""
    counts = {
        state: sum(s.status == state for s in statuses) for state in ("done", "partial", "failed")
    }
    status: RunState = "done"
    if counts["failed"] == len(statuses):
        status = "failed"
    elif counts["failed"] or counts["partial"]:
        status = "partial"
    usage = run_usage(statuses, roles)
    return RunSummary(
        run=run,
        status=status,
        pairs_total=len(statuses),
        pairs_done=counts["done"],
        pairs_partial=counts["partial"],
        pairs_failed=counts["failed"],
        tiles=sum(s.tiles for s in statuses),
        tiles_failed=sum(s.failed_jobs for s in statuses),
        tile_seconds=round(sum(s.tile_seconds for s in statuses), 3),
        work_factor=mean_work_factor(statuses),
        wall_seconds=wall_seconds,
        pairs=sorted(statuses, key=lambda s: s.pair),
        usage=usage,
        cost=estimate_cost(usage.total, prices),
    )


def run_usage(statuses: list[PairStatus], roles: RunUsage) -> RunUsage:
    return RunUsage(
        workers=total([s.usage for s in statuses]) + roles.workers,
        dispatcher=roles.dispatcher,
        collector=total([s.collector_usage for s in statuses]) + roles.collector,
    )


def mean_work_factor(statuses: list[PairStatus]) -> float | None:
    factors = [s.work_factor for s in statuses if s.work_factor is not None]
    return round(sum(factors) / len(factors), 4) if factors else None


def rejected(run: str, message: str) -> RunSummary:
    return RunSummary(run=run, status="rejected", message=message)
