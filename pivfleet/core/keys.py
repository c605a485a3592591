"""Deterministic keys: a redelivered job overwrites the same object, never a new one.

Intermediate objects live under `runs/<run>/<generation>/`: a submission's work never mixes
with an earlier one's, and `runs/<run>/current` names the generation whose outputs count.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from datetime import datetime

from pivfleet.core.ports import BlobStore

WORK_PREFIX = "runs"
SUMMARY_FILENAME = "summary.json"
TEXT_SUFFIX, NETCDF_SUFFIX, PLOT_SUFFIX = ".txt", ".nc", ".png"
OUTPUT_SUFFIXES = (TEXT_SUFFIX, NETCDF_SUFFIX, PLOT_SUFFIX)
"""A pair's output files are `<pair><suffix>`."""
RUN_OUTPUT_STEM = "run"
"""The run's own outputs beside its pairs': `run.nc` (every pair along time), `run.png`."""
STEP_RECORD_SUFFIX = "/result.json"
GENERATION_PATTERN = r"^\d{8}T\d{6}\d{3}Z-[0-9A-Za-z]{1,16}$"


def new_generation(now: float | None = None) -> str:
    """A fresh generation id; ids sort in the order they were made."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now))
    millis = int(((time.time() if now is None else now) % 1) * 1000)
    return f"{stamp}{millis:03d}Z-{uuid.uuid4().hex[:8]}"


def upload_generation(event_time: str, sequencer: str) -> str:
    """The generation of one upload of `run.json`, from its S3 event: the same for a
    redelivered notification, newer for every upload after it."""
    moment = datetime.fromisoformat(event_time.replace("Z", "+00:00"))
    stamp = moment.strftime("%Y%m%dT%H%M%S") + f"{moment.microsecond // 1000:03d}Z"
    tail = re.sub(r"[^0-9A-Za-z]", "", sequencer)[-16:] or "0"
    return f"{stamp}-{tail}"


@dataclass(frozen=True)
class RunKeys:
    """Where one run's intermediate and final objects live.

    Intermediate objects go under `runs/<run>/` in the work store; outputs under
    `outputs_prefix` in the output store (`<run>/` in S3, the OUT folder itself locally).
    """

    run: str
    generation: str
    outputs_prefix: str

    @property
    def work(self) -> str:
        return f"{WORK_PREFIX}/{self.run}/{self.generation}"

    def current(self) -> str:
        """The run's current generation: only its outputs may be written."""
        return current_key(self.run)

    def plan(self) -> str:
        return f"{self.work}/plan.json"

    def jobs_sent(self) -> str:
        """Marker: every job of the plan was sent (the step after the plan)."""
        return f"{self.work}/jobs-sent"

    def dispatcher_usage(self) -> str:
        """The dispatcher's requests and bytes for the run (`core/cost.py`), for its summary."""
        return f"{self.work}/dispatcher-usage.json"

    def frame_strips(self, pair: str, side: str) -> str:
        """Frame `side` ("a" or "b") of a pass-synchronous pair in strips (`core/strips.py`),
        written once by the dispatcher: its jobs read about their crops only."""
        return f"{self.work}/frames/{pair}/{side}.npy"

    def step_frames(self, pair: str, step: int, side: str) -> str:
        """Frame `side` as image step `step` of the pair left it, in strips (`core/strips.py`):
        the next step reads it whole, the PIV jobs about their crops only."""
        return f"{self.steps(pair, step)}/{side}.npy"

    def steps(self, pair: str, step: int) -> str:
        """Image step `step` of a pair: its frames, its result and the marker that the jobs
        after it (the next step's, or the PIV jobs after the last) were sent."""
        return f"{self.step_records(pair)}{step}"

    def step_record(self, pair: str, step: int) -> str:
        return f"{self.steps(pair, step)}{STEP_RECORD_SUFFIX}"

    def step_records(self, pair: str) -> str:
        """The folder of every image step of the pair (`step_record`s end STEP_RECORD_SUFFIX)."""
        return f"{self.work}/steps/{pair}/"

    def step_sent(self, pair: str, step: int) -> str:
        return f"{self.steps(pair, step)}/next-sent"

    def tile(self, pair: str, tile: int) -> str:
        return f"{self.work}/tiles/{pair}/{tile:05d}.npz"

    def record(self, pair: str, pass_index: int | None, tile: int, step: int | None = None) -> str:
        """Where a job's result is recorded: per pass for a pass-synchronous job, per step for
        an image step's."""
        if step is not None:
            return self.step_record(pair, step)
        if pass_index is None:
            return self.result_record(pair, tile)
        return self.pass_record(pair, pass_index, tile)

    def tally(self, pair: str, pass_index: int | None) -> str:
        """Which results of a pair's step (its tiles, or pass k) are in: one bit per tile."""
        step = "tiles" if pass_index is None else f"pass-{pass_index}"
        return f"{self.work}/tallies/{pair}/{step}"

    def result_record(self, pair: str, tile: int) -> str:
        return f"{self.work}/results/{pair}/{tile:05d}.json"

    def result_records(self, pair: str) -> str:
        return f"{self.work}/results/{pair}/"

    def passes(self, pair: str, index: int) -> str:
        """Pass `index` of a pass-synchronous pair: its tiles' raw blocks, their result
        records, the predictor it deforms with and the marker that its jobs were sent."""
        return f"{self.work}/passes/{pair}/{index}"

    def pass_tile(self, pair: str, index: int, tile: int) -> str:
        return f"{self.passes(pair, index)}/tiles/{tile:05d}.npz"

    def pass_record(self, pair: str, index: int, tile: int) -> str:
        return f"{self.pass_records(pair, index)}{tile:05d}.json"

    def pass_records(self, pair: str, index: int) -> str:
        return f"{self.passes(pair, index)}/results/"

    def predictor(self, pair: str, index: int) -> str:
        """The predictor pass `index` deforms with: u and v on its grid, in strips."""
        return f"{self.passes(pair, index)}/predictor.npy"

    def pass_sent(self, pair: str, index: int) -> str:
        """Marker: every job of the pass was sent (pass 0's go with the plan's jobs)."""
        return f"{self.passes(pair, index)}/jobs-sent"

    def pass_summary(self, pair: str, index: int) -> str:
        """What the pass's jobs cost and which failed, written when it was reduced."""
        return f"{self.passes(pair, index)}/summary.json"

    def pair_status(self, pair: str) -> str:
        return f"{self.work}/pairs/{pair}.json"

    def pair_statuses(self) -> str:
        return f"{self.work}/pairs/"

    def pairs_tally(self) -> str:
        """Which pairs have their status: one bit per pair, in the plan's order. Outside
        `tallies/`, where a pair named like it would have its own folder."""
        return f"{self.work}/pairs-tally"

    def output(self, pair: str, suffix: str) -> str:
        return f"{self.outputs_prefix}{pair}{suffix}"

    def summary(self) -> str:
        return f"{self.outputs_prefix}{SUMMARY_FILENAME}"

    def run_output(self, suffix: str) -> str:
        return f"{self.outputs_prefix}{RUN_OUTPUT_STEM}{suffix}"


def current_key(run: str) -> str:
    return f"{WORK_PREFIX}/{run}/current"


def current_generation(store: BlobStore, run: str) -> str | None:
    """The generation of `run` whose outputs count, None before its first dispatch."""
    try:
        return store.get(current_key(run)).decode()
    except KeyError:
        return None


def bucket_keys(run: str, generation: str) -> RunKeys:
    """A run's keys in the shared output bucket: its outputs under `<run>/`."""
    return RunKeys(run=run, generation=generation, outputs_prefix=f"{run}/")
