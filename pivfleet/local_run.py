"""The embedded run: the cloud's roles on one machine, with in-memory queues, folders and a
process pool. Dispatch, tile processing and collecting are the very functions the Lambda and
the containers call; only the transports differ."""

from __future__ import annotations

import tempfile
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from pivfleet.collecting import Collector
from pivfleet.dispatch import dispatch_run
from pivfleet.errors import OutputError
from pivfleet.file_store import FileBlobStore
from pivfleet.imaging import read_frame
from pivfleet.job_outcome import parse_job, settle_error, settle_result
from pivfleet.layout import Layout
from pivfleet.memory_queue import InMemoryQueue
from pivfleet.messages import TileJob, TileResult
from pivfleet.ports import Message
from pivfleet.processing import FrameCache, process_tile
from pivfleet.progress import Progress
from pivfleet.spec import RunSpec
from pivfleet.summary import RunSummary

IDLE_POLL_SECONDS = 0.05
_worker_state: dict[str, object] = {}


def init_worker(input_root: str, work_root: str, layout: Layout) -> None:
    """Per-process state: each pool process keeps its own decoded-pair cache."""
    _worker_state["frames"] = FrameCache(FileBlobStore(Path(input_root)))
    _worker_state["work"] = FileBlobStore(Path(work_root))
    _worker_state["layout"] = layout


def execute_job(body: str) -> str:
    job = TileJob.model_validate_json(body)
    frames, work, layout = (_worker_state[k] for k in ("frames", "work", "layout"))
    result = process_tile(job, frames, work, layout)  # type: ignore[arg-type]
    return result.model_dump_json()


def check_output_folder(input_dir: Path, out_dir: Path) -> None:
    source, target = input_dir.resolve(), out_dir.resolve()
    if target == source or target.is_relative_to(source):
        raise OutputError(
            f"--out {out_dir} is inside the input folder {input_dir}: results would be read as "
            "frames on the next run. Choose a folder outside it."
        )
    try:
        target.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=target).close()
    except OSError as error:
        raise OutputError(
            f"--out {out_dir} is not writable ({error.strerror}); choose another folder."
        ) from None


@dataclass
class LocalRun:
    """State of one embedded run: its queues, stores and pool."""

    spec: RunSpec
    input_dir: Path
    out_dir: Path
    workers: int

    def execute(self) -> RunSummary:
        check_output_folder(self.input_dir, self.out_dir)
        with tempfile.TemporaryDirectory(prefix=".pivfleet-", dir=self.out_dir) as scratch:
            return self._execute(Path(scratch))

    def _execute(self, scratch: Path) -> RunSummary:
        layout = Layout(run=self.spec.run, outputs_prefix="")
        inputs, work, outputs = (
            FileBlobStore(self.input_dir),
            FileBlobStore(scratch),
            FileBlobStore(self.out_dir),
        )
        self.jobs = InMemoryQueue(f"jobs-{self.spec.algorithm}")
        self.results = InMemoryQueue("results")
        plan = dispatch_run(
            self.spec, inputs.list(""), lambda name: read_frame(str(self.input_dir / name)),
            (work, outputs), layout, self.jobs.send,
        )  # fmt: skip
        assert plan is not None  # a fresh scratch store has no plan yet
        if not any(p.tile_count for p in plan.pairs):
            return RunSummary.model_validate_json(outputs.get(layout.summary()))
        self.collector = Collector(work, outputs, layout, plan)
        self.progress = Progress(len(plan.pairs), sum(p.tile_count for p in plan.pairs))
        for status in plan.failed_statuses():
            self.progress.note(f"pair {status.pair} failed: {status.errors[0]}")
            self.progress.pair_done(failed=True)
        args = (str(self.input_dir), str(scratch), layout)
        with ProcessPoolExecutor(self.workers, initializer=init_worker, initargs=args) as pool:
            summary = self._pump(pool)
        self.progress.close()
        return summary

    def _pump(self, pool: ProcessPoolExecutor) -> RunSummary:
        """Feed the pool from the jobs queue and the collector from the results queue."""
        running: dict[Future[str], tuple[Message, TileJob]] = {}
        while True:
            for message in self.jobs.receive(max(0, 2 * self.workers - len(running))):
                job = parse_job(message, self.jobs)
                if job is not None:
                    running[pool.submit(execute_job, message.body)] = (message, job)
            if summary := self._collect():
                return summary
            if not running:
                time.sleep(IDLE_POLL_SECONDS)  # jobs are waiting out a retry backoff
                continue
            finished, _ = wait(running, timeout=1.0, return_when=FIRST_COMPLETED)
            for future in finished:
                self._settle(future, *running.pop(future))

    def _settle(self, future: Future[str], message: Message, job: TileJob) -> None:
        error = future.exception()
        if error is not None:
            settle_error(self.jobs, self.results, message, job, error)
            return
        settle_result(
            self.jobs, self.results, message, TileResult.model_validate_json(future.result())
        )

    def _collect(self) -> RunSummary | None:
        summary = None
        for message in self.results.receive(100):
            result = TileResult.model_validate_json(message.body)
            self.progress.tile_done()
            if result.status == "failed":
                self.progress.note(f"pair {result.pair} tile {result.tile} failed: {result.error}")
            collected = self.collector.collect(result)
            if collected.pair is not None:
                self.progress.pair_done(failed=collected.pair.status != "done")
            summary = collected.summary or summary
            self.results.ack(message)
        return summary
