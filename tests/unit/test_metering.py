"""The meter around the ports counts, on a real folder and a real in-memory queue, the
requests and bytes S3 and SQS would bill for the same calls; a worker's results carry them."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from pivfleet.core.cost import Requests, Usage, WorkerSize
from pivfleet.core.messages import TileJob, TileResult, parse_message
from pivfleet.core.spec import PivSettings
from pivfleet.core.tiling import Box, Tile
from pivfleet.roles.consumer import Consumer, Intake
from pivfleet.roles.metrics import Meter, MeteredQueue, MeteredStore
from pivfleet.roles.worker import Worker
from pivfleet.transports.file_store import FileBlobStore
from pivfleet.transports.memory_queue import InMemoryQueue


def test_store_calls_count_as_s3_requests_and_bytes(tmp_path: Path) -> None:
    meter = Meter()
    store = MeteredStore(FileBlobStore(tmp_path), meter)
    store.put("a/one", b"0123456789")
    assert not store.put_if_absent("a/one", b"lost")  # billed, nothing written
    assert store.get("a/one") == b"0123456789"
    assert store.get_range("a/one", 2, 3) == b"234"
    with pytest.raises(KeyError):
        store.get("a/missing")  # a missing key is a billed GET too
    data, tag = store.get_tagged("a/one")
    assert data == b"0123456789"
    assert store.put_if_tagged("a/one", b"abc", tag)
    assert not store.put_if_tagged("a/one", b"stale", tag)
    assert store.exists("a/one") and store.modified("a/one") is not None
    assert store.list("a/") == ["a/one"] and store.folders("") == ["a"]
    store.delete([])
    store.delete(["a/one", "a/two"])
    assert meter.take() == Usage(
        requests=Requests(s3_get=4, s3_head=2, s3_put=4, s3_list=2, s3_delete=1),
        bytes_read=10 + 3 + 10,
        bytes_written=10 + 3,
    )
    assert meter.take() == Usage()  # a take starts the next count


def test_a_listing_costs_a_request_per_thousand_keys(tmp_path: Path) -> None:
    inner = FileBlobStore(tmp_path)
    for index in range(1001):
        inner.put(f"k/{index:04d}", b"")
    meter = Meter()
    assert len(MeteredStore(inner, meter).list("k/")) == 1001
    assert meter.usage().requests == Requests(s3_list=2)


def test_what_goes_to_the_outputs_is_kept(tmp_path: Path) -> None:
    meter = Meter()
    MeteredStore(FileBlobStore(tmp_path / "work"), meter).put("w", b"12345")
    outputs = MeteredStore(FileBlobStore(tmp_path / "out"), meter, kept=True)
    outputs.put("pair.txt", b"123")
    assert outputs.put_if_absent("pair.nc", b"1234")
    assert not outputs.put_if_absent("pair.nc", b"1234")
    assert meter.usage().bytes_written == 12 and meter.usage().bytes_kept == 7


def test_queue_calls_count_as_sqs_requests() -> None:
    meter = Meter()
    queue = MeteredQueue(InMemoryQueue("jobs"), meter)
    assert queue.receive(10) == []  # an empty poll is idle, not counted
    queue.send([f"body {i}" for i in range(25)])
    first, second, third, *_ = queue.receive(10)
    queue.extend(first, 30)
    queue.retry_later(second, 5)
    queue.ack(first)
    queue.dead_letter(third, "broken")  # SQS: a send to the DLQ, then a delete
    assert meter.take().requests == Requests(
        sqs_send=3 + 1, sqs_receive=1, sqs_delete=2, sqs_change_visibility=2
    )
    assert queue.name == "jobs"


def test_the_meter_counts_every_thread() -> None:
    meter = Meter()

    def count() -> None:
        for _ in range(1000):
            meter.count("s3_get", read=2)

    threads = [threading.Thread(target=count) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert meter.usage() == Usage(requests=Requests(s3_get=8000), bytes_read=16000)


def job(index: int) -> TileJob:
    box = Box(y0=0, y1=64, x0=0, x1=64)
    return TileJob(
        run="r", generation="20250101T000000000Z-a", pair="p", frame_a="a.tif",
        frame_b="b.tif", image_shape=(64, 64), tile=Tile(index=index, crop=box, core=box),
        tile_count=2, algorithm="windef", piv=PivSettings(windows=(32,), overlaps=(16,)),
    )  # fmt: skip


def test_each_result_carries_its_job_s_requests_and_time() -> None:
    """One consume loop over a metered jobs queue: a result holds the job's receive and its
    own send, the tile's store requests, the time held at the worker's size; the job's ack
    comes after its result, so the next result carries it."""
    jobs, results = InMemoryQueue("jobs"), InMemoryQueue("results")
    jobs.send([job(0).model_dump_json(), job(1).model_dump_json()])
    stop = threading.Event()

    def run_tile(tile_job: TileJob) -> TileResult:
        if tile_job.tile.index == 1:
            stop.set()
        time.sleep(0.01)
        return TileResult(
            run="r", generation=tile_job.generation, pair="p", tile=tile_job.tile.index,
            tile_count=2, core=tile_job.tile.core, status="done", key="k",
            usage=Usage(requests=Requests(s3_get=2, s3_put=1), bytes_read=7),
        )  # fmt: skip

    worker = Worker(results, run_tile, WorkerSize(vcpu=2, memory_gb=8))
    Consumer(worker.metered(jobs), worker, Intake(wait_seconds=0)).run(stop)
    first, second = (
        parse_message(m.body, TileResult).usage for m in results.receive(10, visibility_seconds=60)
    )
    tile = Requests(s3_get=2, s3_put=1)
    assert first.requests == tile + Requests(sqs_receive=1, sqs_send=1)
    assert second.requests == tile + Requests(sqs_receive=1, sqs_send=1, sqs_delete=1)
    assert first.bytes_read == 7 and first.worker_seconds > 0
    assert first.vcpu_seconds == pytest.approx(2 * first.worker_seconds, abs=1e-3)
    assert first.gb_seconds == pytest.approx(8 * first.worker_seconds, abs=1e-3)
    assert len(jobs) == 0
