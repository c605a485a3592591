"""The meter around the ports counts, on a real folder and a real in-memory queue, the
requests and bytes S3 and SQS would bill for the same calls; a worker's results carry them."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from pivfleet.core.cost import Requests, Usage
from pivfleet.roles.metrics import Meter, MeteredQueue, MeteredStore
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
