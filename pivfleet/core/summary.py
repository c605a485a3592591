"""What became of each pair and of the run: the records `status` and users read."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from pivfleet import __version__
from pivfleet.core.spec import RunSpec

PairState = Literal["done", "partial", "failed"]
RunState = Literal["done", "partial", "failed", "rejected"]


class PairStatus(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    pair: str
    status: PairState
    tiles: int = 0
    failed_tiles: list[int] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)
    tile_seconds: float = 0.0


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
    wall_seconds: float | None = None
    message: str | None = None
    pivfleet_version: str = __version__
    spec: RunSpec | None = None
    """The settings the run was processed with."""
    pairs: list[PairStatus] = Field(default_factory=list)


def summarise(run: str, statuses: list[PairStatus], wall_seconds: float | None) -> RunSummary:
    counts = {
        state: sum(s.status == state for s in statuses) for state in ("done", "partial", "failed")
    }
    status: RunState = "done"
    if counts["failed"] == len(statuses):
        status = "failed"
    elif counts["failed"] or counts["partial"]:
        status = "partial"
    return RunSummary(
        run=run,
        status=status,
        pairs_total=len(statuses),
        pairs_done=counts["done"],
        pairs_partial=counts["partial"],
        pairs_failed=counts["failed"],
        tiles=sum(s.tiles for s in statuses),
        tiles_failed=sum(len(s.failed_tiles) for s in statuses),
        tile_seconds=round(sum(s.tile_seconds for s in statuses), 3),
        wall_seconds=wall_seconds,
        pairs=sorted(statuses, key=lambda s: s.pair),
    )


def rejected(run: str, message: str) -> RunSummary:
    return RunSummary(run=run, status="rejected", message=message)
