"""`pivfleet run`: the cloud's roles on one machine, with in-memory queues, folders and a
process pool. Dispatch, the worker's handler, the consume loop and the collector are the very
code the Lambda and the containers run; only the transports differ."""

from __future__ import annotations

import contextlib
import signal
import tempfile
import threading
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from pivfleet.algorithms.registry import check_run, load_algorithm, use_specs
from pivfleet.core.cost import WorkerSize
from pivfleet.core.errors import InputFolderError, OutputError
from pivfleet.core.imaging import FrameHeader, Pixels, read_frame, read_header
from pivfleet.core.keys import (
    OUTPUT_SUFFIXES,
    RUN_OUTPUT_STEM,
    SUMMARY_FILENAME,
    RunKeys,
    new_generation,
)
from pivfleet.core.messages import TileJob, TileResult, parse_message
from pivfleet.core.pairing import pair_frames
from pivfleet.core.plan import RunInput
from pivfleet.core.ports import ACK, JobSender, Message, Outcome, dead_letter
from pivfleet.core.progress import Progress
from pivfleet.core.spec import RunSpec
from pivfleet.core.summary import RunSummary
from pivfleet.core.topology import HEARTBEAT_INTERVAL_SECONDS, JOB_VISIBILITY_TIMEOUT_SECONDS
from pivfleet.roles.collector import Collected, Collector
from pivfleet.roles.consumer import Consumer, Intake
from pivfleet.roles.dispatcher import dispatch_run
from pivfleet.roles.heartbeat import Lease
from pivfleet.roles.metrics import Meter, MeteredStore, metered_sender, metered_storage
from pivfleet.roles.storage import RunStorage
from pivfleet.roles.worker import Worker, Workspace, prepare_process, process_tile
from pivfleet.transports.file_store import FileBlobStore
from pivfleet.transports.memory_queue import InMemoryQueue

RECEIVE_WAIT_SECONDS = 0.2
"""In-memory receives return at once when a message is there; this only bounds the stop check."""
JOB_LEASE = Lease(HEARTBEAT_INTERVAL_SECONDS, JOB_VISIBILITY_TIMEOUT_SECONDS)
_pool_state: dict[str, object] = {}


@dataclass(frozen=True)
class PoolSetup:
    """What each pool process needs: the input and work folders, the run's keys, its engine
    threads, the algorithm specs and their commands' environment."""

    input_root: str
    work_root: str
    keys: RunKeys
    threads: int
    specs: Path | None
    environment: dict[str, str] | None


def init_pool_process(setup: PoolSetup) -> None:
    """Per-process state: each pool process keeps its own decoded-pair cache and registers the
    algorithm specs. Ctrl-C reaches the whole process group: the parent stops the pool, so the
    children ignore it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    prepare_process(setup.threads, setup.specs, setup.environment)
    space = Workspace(FileBlobStore(Path(setup.input_root)), FileBlobStore(Path(setup.work_root)))
    _pool_state.update(space=space, keys=setup.keys)


def run_in_pool_process(body: str) -> str:
    job = TileJob.model_validate_json(body)
    space, keys = (_pool_state[k] for k in ("space", "keys"))
    return process_tile(job, space, keys).model_dump_json()  # type: ignore[arg-type]


def stop_pool(pool: ProcessPoolExecutor) -> None:
    """End the pool's processes now: the executor waits for running tiles, so terminate them
    (Python 3.14's `terminate_workers` does the same through the private `_processes`)."""
    pool.shutdown(wait=False, cancel_futures=True)
    for process in list((pool._processes or {}).values()):
        process.terminate()


def one_queue(jobs: InMemoryQueue) -> JobSender:
    """Every algorithm's jobs on one queue: each pool process runs any of them."""
    return lambda _algorithm, bodies: jobs.send(bodies)


def check_input_folder(input_dir: Path) -> None:
    if not input_dir.exists():
        raise InputFolderError(f"INPUT {input_dir} does not exist: give the folder of frames")
    if not input_dir.is_dir():
        raise InputFolderError(
            f"INPUT {input_dir} is a file: give the folder that holds the frames "
            f"({input_dir.parent})"
        )
    try:
        next(input_dir.iterdir(), None)
    except OSError as error:
        raise InputFolderError(
            f"INPUT {input_dir} cannot be read ({error.strerror}): check its permissions"
        ) from None


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


def earlier_results(out_dir: Path, pairs: list[str]) -> list[Path]:
    """Files in `out_dir` a run's outputs would be mixed with: the summary, the files of the
    pairs it lists, and any output file named after one of `pairs`."""
    summary_path = out_dir / SUMMARY_FILENAME
    named = {*pairs, RUN_OUTPUT_STEM}
    if summary_path.is_file():
        with contextlib.suppress(ValueError):  # not ours after all: only the file is in the way
            earlier = RunSummary.model_validate_json(summary_path.read_bytes())
            named |= {p.pair for p in earlier.pairs}
    candidates = [summary_path] + [
        out_dir / f"{p}{s}" for p in sorted(named) for s in OUTPUT_SUFFIXES
    ]
    return [path for path in candidates if path.is_file()]


@dataclass
class EmbeddedCollector:
    """The results queue's handler here: collect, show progress, stop when the run is done."""

    collector: Collector
    progress: Progress
    stop: threading.Event
    summary: RunSummary | None = None

    def report_interrupted(self, out_dir: Path) -> None:
        """Interrupted: keep and list the finished pairs (their status is written after their
        outputs); remove any output of a pair caught half-written; no summary."""
        storage, plan = self.collector.storage, self.collector.plan
        statuses = set(storage.work.list(storage.keys.pair_statuses()))
        finished = [p.name for p in plan.pairs if storage.keys.pair_status(p.name) in statuses]
        partial = [p.name for p in plan.pairs if p.name not in finished]
        storage.outputs.delete(
            [
                storage.keys.output(name, suffix)
                for name in [*partial, RUN_OUTPUT_STEM]
                for suffix in OUTPUT_SUFFIXES
            ]
        )
        self.progress.note(
            f"interrupted: {len(finished)} of {len(plan.pairs)} pairs finished and written to "
            f"{out_dir} ({', '.join(finished) or 'none'}); no summary.json"
        )

    def handle(self, message: Message) -> Outcome:
        result = parse_message(message.body, TileResult)
        self.progress.tile_done()
        if result.status == "failed":
            self.progress.note(f"pair {result.pair} tile {result.tile} failed: {result.error}")
        self.show(self.collector.collect(result))
        return ACK

    def abandon(self, message: Message, reason: str) -> Outcome:
        """The result cannot be collected: its pair fails with `reason`; the run goes on."""
        result = parse_message(message.body, TileResult)
        self.progress.note(f"pair {result.pair} failed: {reason}")
        self.show(self.collector.give_up(result, reason))
        return dead_letter(reason)

    def show(self, collected: Collected) -> None:
        if collected.pair is not None:
            self.progress.pair_done(failed=collected.pair.status != "done")
        if collected.summary is not None:
            self.summary = collected.summary
            self.stop.set()


@dataclass
class EmbeddedRun:
    """One embedded run: its queues, stores and pool."""

    spec: RunSpec
    input_dir: Path
    out_dir: Path
    workers: int
    replace: bool = False
    """Remove an earlier run's results from `out_dir` first, instead of refusing to run."""
    threads: int = 1
    """Engine threads per pool process (`engine/threads.py`)."""
    worker_size: WorkerSize = field(default_factory=WorkerSize)
    """What each pool process is priced as in the summary's cost: a worker process on AWS."""
    algorithm_specs: Path | None = None
    """The folder of algorithm specs (wrapped executables) `--algorithm` may name."""
    program_environment: dict[str, str] | None = None
    """The environment wrapped commands run with (None: this process's)."""

    def execute(self) -> RunSummary:
        check_input_folder(self.input_dir)
        use_specs(self.algorithm_specs)
        for algorithm in self.spec.algorithms:  # a misspelt name stops here, not per pair
            load_algorithm(algorithm)
        check_run(self.spec)
        check_output_folder(self.input_dir, self.out_dir)
        self.clear_earlier_results()
        with tempfile.TemporaryDirectory(prefix=".pivfleet-", dir=self.out_dir) as scratch:
            return self._execute(Path(scratch))

    def _execute(self, scratch: Path) -> RunSummary:
        keys = RunKeys(run=self.spec.run, generation=new_generation(), outputs_prefix="")
        storage = RunStorage(FileBlobStore(scratch), FileBlobStore(self.out_dir), keys)
        jobs, dispatching = InMemoryQueue(f"jobs-{self.spec.algorithm}"), Meter()
        plan = dispatch_run(
            self.spec, self._inputs(dispatching), metered_storage(storage, dispatching),
            metered_sender(one_queue(jobs), dispatching), dispatching,
        )  # fmt: skip
        assert plan is not None  # a fresh scratch store has no plan yet
        steps = len(self.spec.steps) * sum(p.error is None for p in plan.pairs)
        progress = Progress(len(plan.pairs), sum(p.tile_count for p in plan.pairs) + steps)
        for status in plan.failed_statuses():
            progress.note(f"pair {status.pair} failed: {status.errors[0]}")
            progress.pair_done(failed=True)
        if not any(p.tile_count for p in plan.pairs):
            progress.close()
            return RunSummary.model_validate_json(storage.outputs.get(keys.summary()))
        setup = PoolSetup(
            str(self.input_dir), str(scratch), keys, self.threads, self.algorithm_specs,
            self.program_environment,
        )  # fmt: skip
        with ProcessPoolExecutor(
            self.workers, initializer=init_pool_process, initargs=(setup,)
        ) as pool:
            collector = Collector(storage, plan, one_queue(jobs))
            return self._consume(collector, progress, jobs, pool)

    def clear_earlier_results(self) -> None:
        """Results are never stale: an earlier run's files in `out_dir` (its summary, and any
        file this run would write) are removed with `replace`, and refused without it."""
        names = FileBlobStore(self.input_dir).list("")
        pairs = [pair.name for pair in pair_frames(names, self.spec.pairing)]
        earlier = earlier_results(self.out_dir, pairs)
        if earlier and not self.replace:
            shown = ", ".join(p.name for p in earlier[:3]) + (", …" if len(earlier) > 3 else "")
            raise OutputError(
                f"--out {self.out_dir} holds an earlier run's results ({shown}): add --replace "
                "to replace them, or choose another --out"
            )
        for path in earlier:
            path.unlink()

    def _read(self, name: str) -> FrameHeader:
        return read_header(str(self.input_dir / name), name)

    def _inputs(self, meter: Meter) -> RunInput:
        """The frames as the dispatcher reads them: listed and decoded through `meter`, as S3
        requests would be; headers are read from the files (on S3: a GET of each frame)."""
        store = MeteredStore(FileBlobStore(self.input_dir), meter)

        def decode(name: str) -> Pixels:
            try:
                data = store.get(name)
            except (KeyError, OSError):
                data = None  # gone or unreadable: read_frame tries the file and says why
            return read_frame(str(self.input_dir / name), data)

        return RunInput(store.list(""), self._read, decode)

    def _consume(
        self,
        collector: Collector,
        progress: Progress,
        jobs: InMemoryQueue,
        pool: ProcessPoolExecutor,
    ) -> RunSummary:
        """One consume loop per worker over the jobs (each runs its tile in the pool), and the
        collector's consume loop here, until the summary is written."""
        stop, results = threading.Event(), InMemoryQueue("results")
        job_intake = Intake(wait_seconds=RECEIVE_WAIT_SECONDS, lease=JOB_LEASE)
        roles = [self._worker(results, pool) for _ in range(self.workers)]
        workers = [Consumer(role.metered(jobs), role, job_intake) for role in roles]
        threads = [threading.Thread(target=worker.run, args=(stop,)) for worker in workers]
        for thread in threads:
            thread.start()
        collecting = EmbeddedCollector(collector, progress, stop)
        result_intake = Intake(batch_size=self.workers, wait_seconds=RECEIVE_WAIT_SECONDS)
        try:
            Consumer(results, collecting, result_intake).run(stop)
        except BaseException:  # Ctrl-C or SIGTERM: stop the tiles in flight, say what is done
            stop.set()
            stop_pool(pool)
            collecting.report_interrupted(self.out_dir)
            raise
        finally:
            stop.set()
            jobs.close()  # the workers' receives return now, not after RECEIVE_WAIT_SECONDS
            for thread in threads:
                thread.join()
        progress.close()
        assert collecting.summary is not None  # the loop ends only when it is written
        return collecting.summary

    def _worker(self, results: InMemoryQueue, pool: ProcessPoolExecutor) -> Worker:
        def run_tile(job: TileJob) -> TileResult:
            body = pool.submit(run_in_pool_process, job.model_dump_json()).result()
            return TileResult.model_validate_json(body)

        return Worker(results, run_tile, self.worker_size)
