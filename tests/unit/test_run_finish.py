"""Finishing a run costs O(pairs) requests: each finished pair sets its bit in the run's pairs
tally, and only the pair that sets the last one lists and reads the pairs' statuses. Before,
every finished pair listed every status: a 1,000-pair run listed ~500,000 keys."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from pivfleet.core.keys import RunKeys, bucket_keys, new_generation
from pivfleet.core.messages import TileResult
from pivfleet.core.plan import PairPlan, RunPlan
from pivfleet.core.ports import Message
from pivfleet.core.spec import PivSettings, RunSpec
from pivfleet.core.summary import RunSummary
from pivfleet.core.tiling import Box
from pivfleet.core.vectors import Vectors, encode_vectors
from pivfleet.roles.collector import ResultCollector
from pivfleet.transports.file_store import FileBlobStore
from pivfleet.transports.memory_queue import InMemoryQueue


class ListedKeys(FileBlobStore):
    """A bucket that counts the keys its listings returned (S3 bills a LIST per 1,000)."""

    listed = 0

    def list(self, prefix: str) -> list[str]:
        keys = super().list(prefix)
        self.listed += len(keys)
        return keys


def stored_run(
    bucket: FileBlobStore, pairs: int, rejected: int = 0, measured: bool = False
) -> list[TileResult]:
    """A stored plan of `pairs` one-tile pairs (the first `rejected` failed at planning, their
    statuses written as the dispatcher writes them), and the other pairs' results: failed,
    or with `measured` each a field of vectors stored where a worker stores it."""
    spec = RunSpec(run="r", piv=PivSettings(windows=(32, 16), overlaps=(16, 8)))
    keys = bucket_keys("r", new_generation())
    plans = [
        PairPlan(name=f"p{i:04d}", frame_a="a", frame_b="b", image_shape=(64, 64),
                 grid_shape=(7, 7), tile_count=1, error="unreadable" if i < rejected else None)
        for i in range(pairs)
    ]  # fmt: skip
    plan = RunPlan(spec=spec, generation=keys.generation, pairs=plans)
    bucket.put(keys.plan(), plan.model_dump_json().encode())
    for status in plan.failed_statuses():
        bucket.put(keys.pair_status(status.pair), status.model_dump_json().encode())
    core = Box(y0=0, y1=7, x0=0, x1=7)
    if measured:
        field = Vectors(np.ones((7, 7)), np.zeros((7, 7)), np.zeros((7, 7), np.int8))
        for p in plans[rejected:]:
            bucket.put(keys.tile(p.name, 0), encode_vectors(field))
    return [
        TileResult(run="r", generation=keys.generation, pair=p.name, tile=0, tile_count=1,
                   core=core, status="done" if measured else "failed",
                   key=keys.tile(p.name, 0) if measured else None,
                   error=None if measured else "no texture")
        for p in plans[rejected:]
    ]  # fmt: skip


def handle(collector: ResultCollector, result: TileResult) -> None:
    collector.handle(Message(result.model_dump_json(), receipt="r"))


def summary_of(bucket: FileBlobStore) -> RunSummary:
    return RunSummary.model_validate_json(bucket.get("r/summary.json"))


@pytest.mark.parametrize("pairs", [10, 40])
def test_a_run_lists_its_pairs_statuses_once_whatever_its_size(tmp_path: Path, pairs: int) -> None:
    bucket = ListedKeys(tmp_path)
    collector = ResultCollector(bucket, lambda _: InMemoryQueue("jobs"))
    for result in stored_run(bucket, pairs):
        handle(collector, result)
    summary = summary_of(bucket)
    assert summary.pairs_total == pairs and summary.usage is not None
    requests = summary.usage.collector.requests
    assert requests.s3_list == 1, "one listing per run, not one per finished pair"
    assert bucket.listed == pairs, "the statuses listed once"
    # Per pair: its record, its tally's and the pairs tally's swaps (a GET and a PUT each),
    # its status; then one GET of each status. Before: the same, less the pairs tally, plus
    # a LIST of every status so far.
    s3 = requests.s3_get + requests.s3_put + requests.s3_head + requests.s3_list
    assert s3 <= 9 * pairs, f"{s3} requests: a constant number per pair"


def test_pairs_rejected_at_planning_count_as_finished(tmp_path: Path) -> None:
    bucket = FileBlobStore(tmp_path)
    collector = ResultCollector(bucket, lambda _: InMemoryQueue("jobs"))
    results = stored_run(bucket, 6, rejected=2)
    for result in results:
        assert not bucket.exists("r/summary.json")
        handle(collector, result)
    assert (summary_of(bucket).pairs_total, summary_of(bucket).pairs_failed) == (6, 6)


class DiesOnTheLastBit(FileBlobStore):
    """A collector's bucket that dies (once) as the last pair's bit is being set: after its
    status was written, before the tally says the run is done."""

    died = False

    def put_if_tagged(self, key: str, data: bytes, tag: str | None) -> bool:
        if key.endswith("/pairs-tally") and data == b"\xff" and not self.died:
            self.died = True
            raise ConnectionError("collector killed")
        return super().put_if_tagged(key, data, tag)


def test_a_collector_killed_between_the_last_status_and_its_bit_is_finished_by_redelivery(
    tmp_path: Path,
) -> None:
    bucket = DiesOnTheLastBit(tmp_path)
    results = stored_run(bucket, 8)
    collector = ResultCollector(bucket, lambda _: InMemoryQueue("jobs"))
    for result in results[:-1]:
        handle(collector, result)
    with pytest.raises(ConnectionError):
        handle(collector, results[-1])
    assert bucket.exists(f"{bucket_keys_of(results[-1]).pair_status(results[-1].pair)}")
    assert not bucket.exists("r/summary.json")
    handle(ResultCollector(bucket, lambda _: InMemoryQueue("jobs")), results[-1])
    assert summary_of(bucket).pairs_total == 8


def test_two_collectors_at_once_finish_the_run_once(tmp_path: Path) -> None:
    bucket = FileBlobStore(tmp_path)
    results = stored_run(bucket, 40)
    finished: list[bool] = []

    def collect(share: list[TileResult]) -> None:
        collector = ResultCollector(bucket, lambda _: InMemoryQueue("jobs"))
        for result in share:
            collected = collector.collector_for("r", result.generation).collect(result)
            finished.append(collected.summary is not None)

    threads = [threading.Thread(target=collect, args=(results[i::2],)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert finished.count(True) == 1 and summary_of(bucket).pairs_total == 40


def bucket_keys_of(result: TileResult) -> RunKeys:
    return bucket_keys(result.run, result.generation)


class CountedPuts(ListedKeys):
    """A bucket that also counts what was put under each key."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.puts: dict[str, int] = {}

    def put(self, key: str, data: bytes) -> None:
        self.puts[key] = self.puts.get(key, 0) + 1
        super().put(key, data)

    def put_if_absent(self, key: str, data: bytes) -> bool:
        self.puts[key] = self.puts.get(key, 0) + 1
        return super().put_if_absent(key, data)

    def put_file(self, key: str, path: Path) -> None:
        self.puts[key] = self.puts.get(key, 0) + 1
        super().put_file(key, path)


def test_a_result_redelivered_after_the_run_finished_changes_nothing(tmp_path: Path) -> None:
    """SQS delivers at least once: a result that comes again after the summary neither lists
    and reads every status again nor assembles the run dataset again."""
    bucket = CountedPuts(tmp_path)
    results = stored_run(bucket, 12, measured=True)
    collector = ResultCollector(bucket, lambda _: InMemoryQueue("jobs"))
    for result in results:
        handle(collector, result)
    summary, listed, puts = bucket.get("r/summary.json"), bucket.listed, dict(bucket.puts)
    for late in (results[-1], results[0]):
        again = ResultCollector(bucket, lambda _: InMemoryQueue("jobs"))
        assert again.collector_for("r", late.generation).collect(late).summary is None
    assert bucket.listed == listed, "no status was listed again"
    outputs = {k: n for k, n in bucket.puts.items() if k.startswith("r/")}
    assert outputs == {k: n for k, n in puts.items() if k.startswith("r/")}, "no output again"
    assert outputs["r/summary.json"] == 1 and outputs["r/run.nc"] == 1
    assert bucket.get("r/summary.json") == summary


def test_a_run_dataset_lost_with_its_collector_is_made_by_the_next_late_result(
    tmp_path: Path,
) -> None:
    """A collector that died after the summary and before `run.nc` leaves it to a redelivery."""
    bucket = FileBlobStore(tmp_path)
    results = stored_run(bucket, 4, measured=True)
    collector = ResultCollector(bucket, lambda _: InMemoryQueue("jobs"))
    for result in results:
        handle(collector, result)
    bucket.delete(["r/run.nc"])
    again = ResultCollector(bucket, lambda _: InMemoryQueue("jobs"))
    again.collector_for("r", results[0].generation).collect(results[0])
    assert bucket.exists("r/run.nc")
