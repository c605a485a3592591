"""What a run leaves for its users: each pair's files as it finishes, the run's when it ends.

Every write is of a whole file under a deterministic key, so a collector that dies half-way
and is redelivered writes the same files again. The run's dataset is written after its
summary: assembling it can never keep a run from finishing, and a collector that died while
assembling it assembles it again on the next redelivered result, or `pivfleet results
--merged` does.
"""

from __future__ import annotations

import itertools
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from pivfleet.core.keys import NETCDF_SUFFIX, PLOT_SUFFIX, TEXT_SUFFIX
from pivfleet.core.netcdf import Layout, Step, render_pair, run_dataset
from pivfleet.core.outputs import calibrate, render_plot, render_text
from pivfleet.core.plan import PairPlan, RunPlan
from pivfleet.core.stitching import Field, to_field
from pivfleet.core.summary import PairStatus
from pivfleet.core.vectors import Vectors
from pivfleet.roles.storage import IO_THREADS, RunStorage, read_many


@dataclass(frozen=True)
class RunOutputs:
    """Writes one run's output files into its output store."""

    storage: RunStorage
    plan: RunPlan

    @cached_property
    def layout(self) -> Layout:
        """The run's units and time axis, the same for each of its files."""
        return Layout.of(self.plan.spec)

    def write_pair(self, pair: PairPlan, vectors: Vectors) -> None:
        """`<pair>.txt`, `.nc` and `.png`, as the run's outputs ask."""
        spec, layout = self.plan.spec, self.layout
        field = to_field(vectors, spec.piv)
        scaled = calibrate(field, layout.units)
        step = Step(field, self.plan.position(pair.name), pair.name, pair.frame_a, pair.frame_b)
        writers: dict[str, tuple[bool, Callable[[], bytes]]] = {
            TEXT_SUFFIX: (spec.outputs.text, lambda: render_text(scaled)),
            NETCDF_SUFFIX: (
                spec.outputs.netcdf,
                lambda: render_pair(step, layout, self.plan.generation),
            ),
            PLOT_SUFFIX: (spec.outputs.plot, lambda: render_plot(scaled, pair.name, layout.units)),
        }
        for suffix, (wanted, render) in writers.items():
            if wanted:
                key = self.storage.keys.output(pair.name, suffix)
                self.storage.outputs.put_if_absent(key, render())

    def run_written(self) -> bool:
        """`run.nc` is written, or none is wanted: a collector that died between the summary
        and `run.nc` leaves it to the next result redelivered (a HEAD)."""
        target = self.storage.keys.run_output(NETCDF_SUFFIX)
        return not self.plan.spec.outputs.dataset or self.storage.outputs.exists(target)

    def write_run(self, statuses: list[PairStatus]) -> None:
        """`run.nc`, the pairs' fields along time, and `run.png`, their mean; once. Pairs of
        the most common grid go in (a run of mixed frame sizes has no common grid); the others
        are named in `run.nc`'s `pairs_left_out`."""
        if self.run_written():
            return
        keys, outputs = self.storage.keys, self.storage.outputs
        measured = {s.pair for s in statuses if s.status != "failed"}
        pairs = [pair for pair in self.plan.pairs if pair.name in measured]
        if not pairs:
            return
        grid = Counter(pair.grid_shape for pair in pairs).most_common(1)[0][0]
        with tempfile.TemporaryDirectory(prefix="pivfleet-run-") as scratch:
            path = Path(scratch) / "run.nc"
            mean = self.assemble(path, [p for p in pairs if p.grid_shape == grid])
            if self.plan.spec.outputs.plot:
                units = self.layout.units
                title = f"run {self.plan.spec.run}: mean of the valid vectors"
                png = render_plot(calibrate(mean, units), title, units)
                outputs.put(keys.run_output(PLOT_SUFFIX), png)
            outputs.put_file(keys.run_output(NETCDF_SUFFIX), path)

    def assemble(self, path: Path, pairs: list[PairPlan]) -> Field:
        """The pairs' files appended at `path`, one at a time; their mean field."""
        names = {pair.name for pair in pairs}
        left_out = [pair.name for pair in self.plan.pairs if pair.name not in names]
        files = self.read_files([pair.name for pair in pairs])
        first = next(files)
        with run_dataset(path, first, self.layout, left_out) as dataset:
            for data in itertools.chain([first], files):
                dataset.add(data)
            return dataset.mean()

    def read_files(self, pairs: list[str]) -> Iterator[bytes]:
        """The pairs' `.nc`, in order, read `IO_THREADS` at a time: S3 answers each in tens of
        ms, so a thousand pairs take seconds, and only a batch is held at once."""
        keys = [self.storage.keys.output(pair, NETCDF_SUFFIX) for pair in pairs]
        for start in range(0, len(keys), IO_THREADS):
            yield from read_many(self.storage.outputs, keys[start : start + IO_THREADS])
