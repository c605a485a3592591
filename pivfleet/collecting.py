"""Collecting tile results: record each, stitch a pair when all its tiles are in, summarise.

Stateless by design: every fact lives in the work store, so any number of collectors (or a
Lambda) can run, and a duplicate result only rewrites the same record. Final writes are
put-if-absent, so outputs are written exactly once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from pivfleet.algorithm import Vectors
from pivfleet.layout import Layout
from pivfleet.messages import TileResult
from pivfleet.outputs import render_netcdf, render_plot, render_text
from pivfleet.planning import PairPlan, RunPlan
from pivfleet.ports import BlobStore
from pivfleet.processing import decode_vectors
from pivfleet.stitching import stitch_tiles, to_field
from pivfleet.summary import PairStatus, RunSummary, summarise
from pivfleet.tiling import plan_tiles


@dataclass(frozen=True)
class Collected:
    """What one result finished: its pair (when it was the pair's last tile), and the run."""

    pair: PairStatus | None = None
    summary: RunSummary | None = None


@dataclass
class Collector:
    """Turns tile results into pair outputs and a run summary."""

    work: BlobStore
    outputs: BlobStore
    layout: Layout
    plan: RunPlan

    def collect(self, result: TileResult) -> Collected:
        """Record `result`; finish its pair, and then the run, when it was the last one."""
        record = self.layout.result_record(result.pair, result.tile)
        self.work.put(record, result.model_dump_json().encode())
        results = self.pair_results(result.pair)
        if results is None or self.work.exists(self.layout.pair_status(result.pair)):
            return Collected()
        status = self.finish_pair(self.plan.pair(result.pair), results)
        return Collected(status, self.finish_run())

    def pair_results(self, pair: str) -> list[TileResult] | None:
        keys = self.work.list(self.layout.result_records(pair))
        if len(keys) < self.plan.pair(pair).tile_count:
            return None
        return [TileResult.model_validate_json(self.work.get(k)) for k in keys]

    def finish_pair(self, pair: PairPlan, results: list[TileResult]) -> PairStatus:
        tiles = plan_tiles(pair.image_shape, self.plan.spec.piv, pair.tile_pixels)
        by_index = {r.tile: r for r in results}
        blocks = [(t.core, self.load(by_index[t.index])) for t in tiles]
        failed = sorted(r.tile for r in results if r.status == "failed")
        status = PairStatus(
            pair=pair.name,
            status="failed" if len(failed) == len(tiles) else "partial" if failed else "done",
            tiles=len(tiles),
            failed_tiles=failed,
            errors=sorted({r.error for r in results if r.error}),
            tile_seconds=round(sum(r.seconds for r in results), 4),
        )
        if status.status != "failed":
            self.write_outputs(pair, stitch_tiles(pair.grid_shape, blocks))
        self.work.put_if_absent(
            self.layout.pair_status(pair.name), status.model_dump_json().encode()
        )
        return status

    def load(self, result: TileResult) -> Vectors | None:
        if result.status != "done" or result.key is None:
            return None
        return decode_vectors(self.work.get(result.key))

    def write_outputs(self, pair: PairPlan, vectors: Vectors) -> None:
        spec, field = self.plan.spec, to_field(vectors, self.plan.spec.piv)
        attributes = {
            "run": spec.run,
            "pair": pair.name,
            "frame_a": pair.frame_a,
            "frame_b": pair.frame_b,
        }
        writers = {
            ".txt": (spec.outputs.text, lambda: render_text(field)),
            ".nc": (spec.outputs.netcdf, lambda: render_netcdf(field, attributes)),
            ".png": (spec.outputs.plot, lambda: render_plot(field, pair.name)),
        }
        for suffix, (wanted, render) in writers.items():
            if wanted:
                self.outputs.put_if_absent(self.layout.output(pair.name, suffix), render())

    def finish_run(self) -> RunSummary | None:
        keys = self.work.list(self.layout.pair_statuses())
        if len(keys) < len(self.plan.pairs):
            return None
        statuses = [PairStatus.model_validate_json(self.work.get(k)) for k in keys]
        summary = summarise(
            self.plan.spec.run, statuses, round(time.time() - self.plan.created_at, 3)
        )
        self.outputs.put_if_absent(
            self.layout.summary(), summary.model_dump_json(indent=2).encode()
        )
        return summary


def record_failed_pairs(plan: RunPlan, work: BlobStore, layout: Layout) -> None:
    """Pairs rejected at planning are finished at once: they will get no tile results."""
    for status in plan.failed_statuses():
        work.put_if_absent(layout.pair_status(status.pair), status.model_dump_json().encode())
