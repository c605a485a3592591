"""InMemoryQueue keeps SQS's semantics: visibility timeout, redelivery, receipts, redrive."""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter

import pytest

from pivfleet.core.ports import JobQueue, Message
from pivfleet.core.topology import JOB_VISIBILITY_TIMEOUT_SECONDS, MAX_RECEIVE_COUNT
from pivfleet.transports import memory_queue
from pivfleet.transports.memory_queue import InMemoryQueue

TIMEOUT = 30.0


class FakeClock:
    """Time that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def queue(clock: FakeClock) -> InMemoryQueue:
    return InMemoryQueue("jobs-test", visibility_timeout_seconds=TIMEOUT, clock=clock)


def receive_one(queue: InMemoryQueue) -> Message:
    (message,) = queue.receive()
    return message


def test_is_a_job_queue() -> None:
    queue: JobQueue = InMemoryQueue("q")
    assert queue.name == "q"


def test_defaults_match_the_deployed_queue() -> None:
    queue = InMemoryQueue("q")
    assert queue.visibility_timeout_seconds == JOB_VISIBILITY_TIMEOUT_SECONDS
    assert queue.max_receive_count == MAX_RECEIVE_COUNT


def test_empty_queue_receives_nothing(queue: InMemoryQueue) -> None:
    assert queue.receive() == []
    assert len(queue) == 0


def test_send_then_receive_returns_the_body_once(queue: InMemoryQueue) -> None:
    queue.send(["hello"])
    message = receive_one(queue)
    assert message.body == "hello"
    assert message.receive_count == 1
    assert message.receipt
    assert message.message_id.startswith("jobs-test")


def test_receive_hides_the_message_for_the_visibility_timeout(
    queue: InMemoryQueue, clock: FakeClock
) -> None:
    queue.send(["job"])
    receive_one(queue)
    assert queue.receive() == []
    clock.advance(TIMEOUT - 0.001)
    assert queue.receive() == []
    assert len(queue) == 1  # hidden, not gone


def test_unacked_message_is_redelivered_after_the_timeout(
    queue: InMemoryQueue, clock: FakeClock
) -> None:
    queue.send(["job"])
    first = receive_one(queue)
    clock.advance(TIMEOUT)
    second = receive_one(queue)
    assert second.body == "job"
    assert second.message_id == first.message_id
    assert second.receive_count == 2
    assert second.receipt != first.receipt


def test_ack_removes_the_message(queue: InMemoryQueue, clock: FakeClock) -> None:
    queue.send(["job"])
    queue.ack(receive_one(queue))
    assert len(queue) == 0
    clock.advance(10 * TIMEOUT)
    assert queue.receive() == []
    assert queue.dead_letters == []


def test_ack_twice_is_harmless(queue: InMemoryQueue) -> None:
    queue.send(["job", "other"])
    message = receive_one(queue)
    queue.ack(message)
    queue.ack(message)
    assert len(queue) == 1


def test_extend_keeps_the_message_hidden_past_the_original_timeout(
    queue: InMemoryQueue, clock: FakeClock
) -> None:
    queue.send(["long tile"])
    message = receive_one(queue)
    for _ in range(5):  # a heartbeat every 20 s for 100 s, well past the 30 s timeout
        clock.advance(20)
        queue.extend(message, 30)
        assert queue.receive() == []
    clock.advance(29)
    assert queue.receive() == []
    clock.advance(1)
    assert receive_one(queue).receive_count == 2


def test_extend_zero_releases_at_once(queue: InMemoryQueue) -> None:
    queue.send(["job"])
    message = receive_one(queue)
    queue.extend(message, 0)
    again = receive_one(queue)
    assert again.message_id == message.message_id
    assert again.receive_count == 2


def test_retry_later_delays_redelivery(queue: InMemoryQueue, clock: FakeClock) -> None:
    queue.send(["throttled"])
    message = receive_one(queue)
    queue.retry_later(message, 5)
    assert queue.receive() == []
    clock.advance(5)
    assert receive_one(queue).body == "throttled"


def test_stale_receipt_cannot_ack(queue: InMemoryQueue, clock: FakeClock) -> None:
    queue.send(["job"])
    stale = receive_one(queue)
    clock.advance(TIMEOUT)
    current = receive_one(queue)
    queue.ack(stale)  # the first worker finishes late: its receipt is no longer valid
    assert len(queue) == 1
    queue.ack(current)
    assert len(queue) == 0


def test_stale_receipt_cannot_extend_or_dead_letter(queue: InMemoryQueue, clock: FakeClock) -> None:
    queue.send(["job"])
    stale = receive_one(queue)
    clock.advance(TIMEOUT)
    receive_one(queue)
    queue.extend(stale, 0)  # would release the current holder's message if honoured
    assert queue.receive() == []
    queue.dead_letter(stale, "late")
    assert queue.dead_letters == []
    assert len(queue) == 1


def test_message_moves_to_dead_letters_after_max_receive_count(clock: FakeClock) -> None:
    queue = InMemoryQueue("q", visibility_timeout_seconds=TIMEOUT, max_receive_count=3, clock=clock)
    queue.send(["poison"])
    counts = []
    for _ in range(3):
        counts.append(receive_one(queue).receive_count)
        clock.advance(TIMEOUT)
    assert counts == [1, 2, 3]
    assert queue.receive() == []  # the fourth receive redrives instead of delivering
    assert len(queue) == 0
    (dead,) = queue.dead_letters
    assert dead.body == "poison"
    assert dead.receive_count == 3
    assert dead.dead_reason == "max receive count reached"
    clock.advance(10 * TIMEOUT)
    assert queue.receive() == []


def test_redrive_does_not_starve_the_messages_behind(clock: FakeClock) -> None:
    queue = InMemoryQueue("q", visibility_timeout_seconds=TIMEOUT, max_receive_count=1, clock=clock)
    queue.send(["poison"])
    receive_one(queue)
    clock.advance(TIMEOUT)
    queue.send(["fresh"])
    assert [m.body for m in queue.receive(max_messages=10)] == ["fresh"]
    assert [d.body for d in queue.dead_letters] == ["poison"]


def test_dead_letter_moves_the_message_with_the_reason(
    queue: InMemoryQueue, clock: FakeClock
) -> None:
    queue.send(["bad message", "good message"])
    bad, _good = queue.receive(max_messages=2)
    queue.dead_letter(bad, "TileJob failed validation: extra field 'x'")
    (dead,) = queue.dead_letters
    assert dead.body == "bad message"
    assert dead.dead_reason == "TileJob failed validation: extra field 'x'"
    assert len(queue) == 1
    clock.advance(TIMEOUT)
    assert [m.body for m in queue.receive(max_messages=10)] == ["good message"]


def test_receive_max_messages_limits_the_batch(queue: InMemoryQueue) -> None:
    queue.send([f"m{i}" for i in range(7)])
    first = queue.receive(max_messages=3)
    second = queue.receive(max_messages=3)
    third = queue.receive(max_messages=3)
    assert [len(b) for b in (first, second, third)] == [3, 3, 1]
    bodies = [m.body for m in (*first, *second, *third)]
    assert sorted(bodies) == sorted(f"m{i}" for i in range(7))
    assert queue.receive(max_messages=10) == []


def test_send_keeps_bodies_and_gives_distinct_ids(queue: InMemoryQueue) -> None:
    bodies = ['{"a": 1}', "", "x" * 10_000, "ünïcode"]
    queue.send(bodies)
    received = queue.receive(max_messages=10)
    assert sorted(m.body for m in received) == sorted(bodies)
    assert len({m.message_id for m in received}) == len(bodies)


def test_wait_returns_empty_after_the_wait_when_nothing_is_visible() -> None:
    queue = InMemoryQueue("q")  # the real clock
    queue.send(["hidden"])
    queue.receive()
    start = time.monotonic()
    assert queue.receive(wait_seconds=0.2) == []
    elapsed = time.monotonic() - start
    assert 0.2 <= elapsed < 5.0


def test_wait_with_an_injected_clock_ends_when_that_clock_passes_the_deadline() -> None:
    clock = FakeClock()

    def ticking() -> float:
        clock.advance(0.5)  # each look at the clock costs half a second of fake time
        return clock()

    queue = InMemoryQueue("q", clock=ticking)
    start = time.monotonic()
    assert queue.receive(wait_seconds=5) == []
    assert time.monotonic() - start < 5.0


def test_wait_returns_a_message_sent_during_the_wait() -> None:
    queue = InMemoryQueue("q")
    sender = threading.Timer(0.1, queue.send, args=(["late"],))
    start = time.monotonic()
    sender.start()
    try:
        received = queue.receive(wait_seconds=10)
    finally:
        sender.join()
    assert [m.body for m in received] == ["late"]
    assert time.monotonic() - start < 5.0


def test_concurrent_receivers_never_share_a_visible_message() -> None:
    queue = InMemoryQueue("q", visibility_timeout_seconds=600)
    total = 3000
    queue.send([str(i) for i in range(total)])
    got: dict[int, list[str]] = {}
    start = threading.Barrier(4)

    def drain(worker: int) -> None:
        mine: list[str] = []
        start.wait()
        while batch := queue.receive(max_messages=3):
            mine += [m.body for m in batch]
        got[worker] = mine

    threads = [threading.Thread(target=drain, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    counts = Counter(body for bodies in got.values() for body in bodies)
    duplicates = [body for body, n in counts.items() if n > 1]
    assert duplicates == []
    assert len(counts) == total


def test_concurrent_ack_and_receive_lose_nothing() -> None:
    queue = InMemoryQueue("q", visibility_timeout_seconds=600)
    total = 2000
    queue.send([str(i) for i in range(total)])
    acked: list[str] = []
    lock = threading.Lock()

    def work() -> None:
        while batch := queue.receive(max_messages=5):
            for message in batch:
                queue.ack(message)
                with lock:
                    acked.append(message.body)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(acked, key=int) == [str(i) for i in range(total)]
    assert len(queue) == 0


def test_closing_ends_a_waiting_receive_and_the_ones_after_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An embedded run that is over closes its queues: a consumer waiting on a receive stops
    now, woken by the close, not when its wait or its next poll runs out."""
    monkeypatch.setattr(memory_queue, "POLL_INTERVAL_SECONDS", 3600.0)
    waiting, reads = threading.Event(), itertools.count()

    def clock() -> float:  # its second read is the receive's last look before it waits
        if next(reads) == 1:
            waiting.set()
        return time.monotonic()

    queue = InMemoryQueue("jobs-test", clock=clock)
    received: list[list[Message]] = []
    receiver = threading.Thread(target=lambda: received.append(queue.receive(1, 3600.0)))
    receiver.start()
    assert waiting.wait(10)
    queue.close()  # takes the lock: the receiver holds it until it waits
    receiver.join(timeout=10)
    assert not receiver.is_alive() and received == [[]]
    queue.send(["late"])
    assert [m.body for m in queue.receive(1, 3600.0)] == ["late"], "what is visible still comes"
