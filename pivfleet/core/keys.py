"""Deterministic keys: a redelivered job overwrites the same object, never a new one."""

from __future__ import annotations

from dataclasses import dataclass

WORK_PREFIX = "runs"


@dataclass(frozen=True)
class RunKeys:
    """Where one run's intermediate and final objects live.

    Intermediate objects go under `runs/<run>/` in the work store; outputs under
    `outputs_prefix` in the output store (`<run>/` in S3, the OUT folder itself locally).
    """

    run: str
    outputs_prefix: str

    @property
    def work(self) -> str:
        return f"{WORK_PREFIX}/{self.run}"

    def plan(self) -> str:
        return f"{self.work}/plan.json"

    def jobs_sent(self) -> str:
        """Marker: every job of the plan was sent (the step after the plan)."""
        return f"{self.work}/jobs-sent"

    def tile(self, pair: str, tile: int) -> str:
        return f"{self.work}/tiles/{pair}/{tile:05d}.npz"

    def result_record(self, pair: str, tile: int) -> str:
        return f"{self.work}/results/{pair}/{tile:05d}.json"

    def result_records(self, pair: str) -> str:
        return f"{self.work}/results/{pair}/"

    def pair_status(self, pair: str) -> str:
        return f"{self.work}/pairs/{pair}.json"

    def pair_statuses(self) -> str:
        return f"{self.work}/pairs/"

    def output(self, pair: str, suffix: str) -> str:
        return f"{self.outputs_prefix}{pair}{suffix}"

    def summary(self) -> str:
        return f"{self.outputs_prefix}summary.json"


def bucket_keys(run: str) -> RunKeys:
    """A run's keys in the shared output bucket: its outputs under `<run>/`."""
    return RunKeys(run=run, outputs_prefix=f"{run}/")
