"""The one consume loop and the one message policy, over the in-memory queue (SQS semantics)."""

from __future__ import annotations

import errno
import json
import logging
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from pivfleet.core.backoff import backoff_seconds
from pivfleet.core.errors import PoisonMessageError, SettingsError
from pivfleet.core.keys import GENERATION_PATTERN, bucket_keys, new_generation
from pivfleet.core.messages import TileJob, TileResult, parse_message
from pivfleet.core.plan import PairPlan, RunPlan, make_job
from pivfleet.core.ports import ACK, Message, Outcome, defer_by
from pivfleet.core.spec import PivSettings, RunSpec
from pivfleet.core.summary import RunSummary
from pivfleet.core.tiling import Box, plan_tiles
from pivfleet.core.topology import MAX_ATTEMPTS, MAX_RECEIVE_COUNT
from pivfleet.core.vectors import Vectors, encode_vectors
from pivfleet.roles.collector import ResultCollector
from pivfleet.roles.consumer import (
    RETRY_BASE_SECONDS,
    Consumer,
    DeadLetterAbandoned,
    Intake,
    decide,
)
from pivfleet.roles.dispatcher import notified_uploads
from pivfleet.roles.worker import Worker, failed_result
from pivfleet.transports.file_store import FileBlobStore
from pivfleet.transports.memory_queue import InMemoryQueue


def message(body: str = "{}", receive_count: int = 1) -> Message:
    return Message(body, "receipt", receive_count, "id")


class Handler(DeadLetterAbandoned):
    """A role made of one function."""

    def __init__(self, handle: Callable[[Message], Outcome]) -> None:
        self.handle = handle


def failing(error: Exception) -> Handler:
    def handle(_: Message) -> Outcome:
        raise error

    return Handler(handle)


def test_a_poison_pill_is_dead_lettered_at_once_with_its_reason() -> None:
    outcome = decide(failing(PoisonMessageError("invalid message: x")), message())
    assert (outcome.action, outcome.reason) == ("dead_letter", "invalid message: x")


@pytest.mark.parametrize("receive_count", [1, 2, MAX_ATTEMPTS - 1])
def test_other_errors_are_retried_with_growing_backoff(receive_count: int) -> None:
    outcome = decide(
        failing(ConnectionError("endpoint down")), message(receive_count=receive_count)
    )
    assert outcome.action == "retry"
    assert outcome.delay_seconds == RETRY_BASE_SECONDS * 2 ** (receive_count - 1)


def test_the_last_attempt_gives_up_saying_why() -> None:
    outcome = decide(failing(OSError("disk full")), message(receive_count=MAX_ATTEMPTS))
    assert outcome.action == "dead_letter"
    assert outcome.reason == f"gave up after {MAX_ATTEMPTS} attempts: OSError: disk full"


def test_a_message_every_attempt_died_on_is_abandoned_not_run_again() -> None:
    """The delivery past the attempts comes only when each attempt vanished unsettled."""
    ran: list[Message] = []
    outcome = decide(
        Handler(lambda m: ran.append(m) or ACK), message(receive_count=MAX_RECEIVE_COUNT)
    )
    assert not ran
    assert outcome.action == "dead_letter" and "died on every delivery" in outcome.reason


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff_seconds(n, 5, 30) for n in (1, 2, 3, 4, 5)] == [5, 10, 20, 30, 30]


def test_parse_message_names_the_problem() -> None:
    with pytest.raises(PoisonMessageError, match="invalid message"):
        parse_message("not json", TileJob)
    job = tile_job()
    result = failed_result(job, "broken").model_dump_json()
    with pytest.raises(PoisonMessageError, match="expected a tile_job, got tile_result"):
        parse_message(result, TileJob)
    assert parse_message(job.model_dump_json(), TileJob) == job


def test_a_malformed_notification_is_a_poison_pill() -> None:
    with pytest.raises(PoisonMessageError, match="not an S3 notification"):
        notified_uploads('{"Records": [{"s3": {}}]}')
    assert notified_uploads('{"Event": "s3:TestEvent"}') == []


def test_each_upload_of_run_json_is_a_newer_generation_and_a_redelivery_the_same() -> None:
    def event(time: str, sequencer: str) -> str:
        record = {
            "eventTime": time,
            "s3": {"object": {"key": "cam+1/run%C3%BC.json", "sequencer": sequencer}},
        }
        return json.dumps({"Records": [record]})

    [first] = notified_uploads(event("2026-11-24T06:16:00.120Z", "0055AED6DCD90281E5"))
    [again] = notified_uploads(event("2026-11-24T06:16:00.120Z", "0055AED6DCD90281E5"))
    [later] = notified_uploads(event("2026-11-24T06:16:03.002Z", "0055AED6DCD90281F9"))
    assert first.key == "cam 1/runü.json"
    assert first == again and later.generation > first.generation
    assert first.generation < new_generation() and re.fullmatch(
        GENERATION_PATTERN, first.generation
    )


def test_consume_settles_each_outcome_on_the_queue() -> None:
    """ack removes, retry hides for its delay, dead_letter moves to the DLQ with the reason."""
    queue = InMemoryQueue("jobs", visibility_timeout_seconds=60)
    queue.send(["ok", "poison", "flaky"])
    stop = threading.Event()
    seen: list[str] = []

    def handle(received: Message) -> Outcome:
        seen.append(received.body)
        if len(seen) == 3:
            stop.set()
        if received.body == "poison":
            raise PoisonMessageError("bad body")
        if received.body == "flaky":
            raise TimeoutError("slow endpoint")
        return ACK

    Consumer(queue, Handler(handle), Intake(batch_size=3, wait_seconds=0)).run(stop)
    assert sorted(seen) == ["flaky", "ok", "poison"]
    assert [(d.body, d.dead_reason) for d in queue.dead_letters] == [("poison", "bad body")]
    assert len(queue) == 1  # "flaky" waits out its backoff, hidden
    assert queue.receive(10) == []


def test_messages_received_after_stop_are_handed_back_untouched() -> None:
    queue = InMemoryQueue("jobs", visibility_timeout_seconds=60)
    queue.send(["a", "b"])
    stop = threading.Event()
    handled: list[str] = []

    def handle(received: Message) -> Outcome:
        handled.append(received.body)
        stop.set()
        return ACK

    Consumer(queue, Handler(handle), Intake(batch_size=2, wait_seconds=0)).run(stop)
    assert handled == ["a"]
    assert [m.body for m in queue.receive(10)] == ["b"]  # visible again at once


def job_spec() -> RunSpec:
    return RunSpec(run="r", piv=PivSettings(windows=(32, 16), overlaps=(16, 8)))


def tile_job() -> TileJob:
    spec = job_spec()
    pair = PairPlan(name="p", frame_a="a", frame_b="b", image_shape=(64, 64), grid_shape=(7, 7))
    plan = RunPlan(spec=spec, generation=new_generation(), pairs=[pair])
    return make_job(plan, pair, plan_tiles((64, 64), spec.piv, None)[0], 1)


def test_a_worker_reports_a_failed_tile_on_its_last_attempt() -> None:
    """So the pair still finishes: the result names the cause, the job goes to the DLQ."""
    results = InMemoryQueue("results")

    def run_tile(job: TileJob) -> TileResult:
        raise ConnectionError("store unreachable")

    worker = Worker(results, run_tile)
    job = tile_job()
    assert decide(worker, message(job.model_dump_json(), receive_count=1)).action == "retry"
    assert results.receive(10) == []
    outcome = decide(worker, message(job.model_dump_json(), receive_count=MAX_ATTEMPTS))
    assert outcome.action == "dead_letter"
    assert "ConnectionError: store unreachable" in outcome.reason
    [sent] = results.receive(10)
    result = TileResult.model_validate_json(sent.body)
    assert (result.status, result.core) == ("failed", job.tile.core)
    assert result.error == outcome.reason


@pytest.mark.parametrize(
    "error",
    [SettingsError("--windows 64: too big"), OSError(errno.ENAMETOOLONG, "File name too long")],
)
def test_a_permanent_error_is_given_up_at_once_with_its_cause(error: Exception) -> None:
    """Another attempt would fail the same way: no backoff, the cause reported, not a count."""
    results = InMemoryQueue("results")
    worker = Worker(results, lambda job: (_ for _ in ()).throw(error))
    job = tile_job()
    outcome = decide(worker, message(job.model_dump_json(), receive_count=1))
    assert outcome.action == "dead_letter" and "gave up" not in outcome.reason
    assert str(error.args[-1]) in outcome.reason
    [sent] = results.receive(10)
    assert TileResult.model_validate_json(sent.body).error == outcome.reason


def test_a_worker_reports_a_job_every_attempt_died_on() -> None:
    results = InMemoryQueue("results")
    worker = Worker(results, lambda job: pytest.fail("an abandoned job must not run again"))
    job = tile_job()
    outcome = decide(worker, message(job.model_dump_json(), receive_count=MAX_RECEIVE_COUNT))
    [sent] = results.receive(10)
    result = TileResult.model_validate_json(sent.body)
    assert (result.status, result.tile) == ("failed", job.tile.index)
    assert "died on every delivery" in (result.error or "") and outcome.action == "dead_letter"


def test_a_deferred_message_comes_back_later_as_a_fresh_delivery() -> None:
    """Waiting (frames still arriving) must not spend the message's attempts."""
    now = [0.0]
    queue = InMemoryQueue("uploads", visibility_timeout_seconds=60, clock=lambda: now[0])
    queue.send(["notification"])
    stop = threading.Event()

    def handle(received: Message) -> Outcome:
        stop.set()
        return defer_by(10)

    Consumer(queue, Handler(handle), Intake(wait_seconds=0)).run(stop)
    assert queue.receive(1) == []
    now[0] = 10.0
    [again] = queue.receive(1)
    assert (again.body, again.receive_count) == ("notification", 1)


class OutputsRefused(FileBlobStore):
    """A bucket whose output files the file system refuses, as it does a name too long."""

    def put_if_absent(self, key: str, data: bytes) -> bool:
        if key.endswith(".nc"):
            raise OSError(errno.ENAMETOOLONG, "File name too long", key)
        return super().put_if_absent(key, data)


def test_a_result_that_cannot_be_collected_fails_its_pair_and_the_run_finishes(
    tmp_path: Path,
) -> None:
    """Given up at once (the cause is permanent): the pair fails with the cause, its
    half-written outputs are removed, and the summary is written, so no run waits forever."""
    bucket, job = OutputsRefused(tmp_path), tile_job()
    keys = bucket_keys(job.run, job.generation)
    pair = PairPlan(name="p", frame_a="a", frame_b="b", image_shape=(64, 64), grid_shape=(7, 7),
                    tile_count=1)  # fmt: skip
    plan = RunPlan(spec=job_spec(), generation=job.generation, pairs=[pair])
    bucket.put(keys.plan(), plan.model_dump_json().encode())
    grid = np.zeros((7, 7))
    bucket.put(keys.tile("p", 0), encode_vectors(Vectors(grid, grid, grid.astype(np.int8))))
    result = TileResult(run=job.run, generation=job.generation, pair="p", tile=0, tile_count=1,
                        core=job.tile.core, status="done", key=keys.tile("p", 0))  # fmt: skip
    jobs = InMemoryQueue("jobs")
    outcome = decide(ResultCollector(bucket, lambda _: jobs), message(result.model_dump_json()))
    assert outcome.action == "dead_letter" and "File name too long" in outcome.reason
    summary = RunSummary.model_validate_json(bucket.get(keys.summary()))
    [status] = summary.pairs
    assert status.status == "failed" and "File name too long" in status.errors[0]
    assert not [k for k in bucket.list(keys.outputs_prefix) if k.startswith(keys.output("p", ""))]


class CountingSwaps(FileBlobStore):
    """A bucket that counts the compare-and-swaps of the pair's tally (not the run's pairs
    tally, swapped once per finished pair)."""

    swaps = 0

    def put_if_tagged(self, key: str, data: bytes, tag: str | None) -> bool:
        self.swaps += "/tallies/" in key
        return super().put_if_tagged(key, data, tag)


def four_tile_results(bucket: FileBlobStore) -> list[str]:
    """A stored plan of one pair cut into four tiles, and the four results' messages."""
    job = tile_job()
    keys = bucket_keys(job.run, job.generation)
    pair = PairPlan(name="p", frame_a="a", frame_b="b", image_shape=(64, 64), grid_shape=(7, 7),
                    tile_count=4, tile_pixels=32)  # fmt: skip
    plan = RunPlan(spec=job_spec(), generation=job.generation, pairs=[pair])
    bucket.put(keys.plan(), plan.model_dump_json().encode())
    bodies = []
    spans = ((0, 4), (4, 7))
    cores = [Box(y0=r[0], y1=r[1], x0=c[0], x1=c[1]) for r in spans for c in spans]
    for tile, core in enumerate(cores):
        block, flags = np.full(core.shape, float(tile)), np.zeros(core.shape, np.int8)
        bucket.put(keys.tile("p", tile), encode_vectors(Vectors(block, block, flags)))
        result = TileResult(run=job.run, generation=job.generation, pair="p", tile=tile,
                            tile_count=4, core=core, status="done",
                            key=keys.tile("p", tile))  # fmt: skip
        bodies.append(result.model_dump_json())
    return bodies


@pytest.mark.parametrize("batch_size", [1, 4])
def test_a_batch_of_results_costs_one_tally_swap_and_finishes_its_pair_once(
    tmp_path: Path, batch_size: int, caplog: pytest.LogCaptureFixture
) -> None:
    bucket, results, jobs = CountingSwaps(tmp_path), InMemoryQueue("results"), InMemoryQueue("j")
    results.send(four_tile_results(bucket))
    stop = threading.Event()
    consumer = Consumer(
        results, ResultCollector(bucket, lambda _: jobs), Intake(batch_size, wait_seconds=0)
    )
    with caplog.at_level(logging.INFO):
        thread = threading.Thread(target=consumer.run, args=(stop,))
        thread.start()
        deadline = time.monotonic() + 30
        while not bucket.exists("r/summary.json") and time.monotonic() < deadline:
            time.sleep(0.01)
        stop.set()
        thread.join()
    assert bucket.swaps == (1 if batch_size == 4 else 4)
    assert [r.message for r in caplog.records].count("pair finished") == 1
    summary = RunSummary.model_validate_json(bucket.get("r/summary.json"))
    assert summary.status == "done" and len(results) == 0


def test_a_batch_its_role_cannot_prepare_is_handled_message_by_message() -> None:
    queue, stop, handled = InMemoryQueue("q"), threading.Event(), []
    queue.send(["a", "b", "c"])

    class Unprepared(Handler):
        def prepare(self, messages: list[Message]) -> None:
            raise ConnectionError("endpoint down")

    def handle(received: Message) -> Outcome:
        handled.append(received.body)
        if len(handled) == 3:
            stop.set()
        return ACK

    Consumer(queue, Unprepared(handle), Intake(batch_size=3, wait_seconds=0)).run(stop)
    assert handled == ["a", "b", "c"] and len(queue) == 0


def test_a_late_result_given_up_keeps_its_finished_pairs_outputs(tmp_path: Path) -> None:
    """A result of a pair that already finished (its collector died before acking it) runs
    out of attempts: the pair's outputs, and the run's, stay whole."""
    bucket = FileBlobStore(tmp_path)
    collector = ResultCollector(bucket, lambda _: InMemoryQueue("j"))
    bodies = four_tile_results(bucket)
    for body in bodies:
        collector.handle(Message(body, receipt="r"))
    written = {key: bucket.get(key) for key in bucket.list("r/")}
    assert {"r/p.nc", "r/p.txt", "r/run.nc", "r/summary.json"} <= set(written)
    outcome = collector.abandon(Message(bodies[0], receipt="r", receive_count=5), "timed out")
    assert outcome.action == "dead_letter"
    assert {key: bucket.get(key) for key in bucket.list("r/")} == written
