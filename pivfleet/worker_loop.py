"""The worker's consume loop: receive, heartbeat, process, report, ack; drain on SIGTERM."""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field

from pivfleet.aws import S3BlobStore
from pivfleet.config import CloudConfig
from pivfleet.job_outcome import parse_job, settle_error, settle_result
from pivfleet.layout import cloud_layout
from pivfleet.logs import tile_metric
from pivfleet.messages import TileJob
from pivfleet.ports import JobQueue, Message
from pivfleet.processing import FrameCache, process_tile

log = logging.getLogger("worker")
RECEIVE_WAIT_SECONDS = 5
"""Short enough that SIGTERM is noticed promptly between long polls."""


class Heartbeat:
    """Extends a message's visibility while its tile runs, so no second worker gets it."""

    def __init__(self, queue: JobQueue, message: Message, every: float, extend_to: int) -> None:
        self.queue, self.message, self.every, self.extend_to = queue, message, every, extend_to
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.queue.extend(self.message, self.extend_to)
            except Exception:
                log.warning("heartbeat failed", exc_info=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class WorkerLoop:
    config: CloudConfig
    jobs: JobQueue
    results: JobQueue
    stop: threading.Event = field(default_factory=threading.Event)
    in_hand: Message | None = None

    def __post_init__(self) -> None:
        self.frames = FrameCache(S3BlobStore(self.config.input_bucket))
        self.work = S3BlobStore(self.config.output_bucket)

    def run(self) -> None:
        while not self.stop.is_set():
            for message in self.jobs.receive(1, RECEIVE_WAIT_SECONDS):
                self.handle(message)

    def handle(self, message: Message) -> None:
        if self.stop.is_set():
            self.jobs.extend(message, 0)  # received during shutdown: hand it straight back
            return
        job = parse_job(message, self.jobs)
        if job is None:
            return
        self.in_hand = message
        try:
            self.process(message, job)
        finally:
            self.in_hand = None

    def process(self, message: Message, job: TileJob) -> None:
        started, bytes_before = time.perf_counter(), self.frames.bytes_read
        beat = Heartbeat(
            self.jobs, message, self.config.heartbeat_seconds, self.config.visibility_seconds
        )
        with beat:
            try:
                result = process_tile(job, self.frames, self.work, cloud_layout(job.run))
            except Exception as error:
                settle_error(self.jobs, self.results, message, job, error)
                return
        settle_result(self.jobs, self.results, message, result)
        log.info(
            "tile processed",
            extra={
                "run": job.run, "pair": job.pair, "tile": job.tile.index, "status": result.status,
                "seconds": round(time.perf_counter() - started, 4), "tile_seconds": result.seconds,
                "bytes": self.frames.bytes_read - bytes_before, "error": result.error,
                "receive_count": message.receive_count,
                **tile_metric(job.algorithm, result.seconds),
            },
        )  # fmt: skip

    def drain(self) -> None:
        """SIGTERM: stop receiving; if the tile is still running after the drain budget,
        release it (visibility 0) for another worker and exit."""
        self.stop.set()
        timer = threading.Timer(self.config.drain_seconds, self._release_and_exit)
        timer.daemon = True
        timer.start()

    def _release_and_exit(self) -> None:
        message = self.in_hand
        if message is not None:
            self.jobs.extend(message, 0)
            log.info(
                "released the tile in hand at shutdown", extra={"message_id": message.message_id}
            )
        os._exit(0)
