"""Dispatching a run: plan it once, record rejected pairs, enqueue its tile jobs.

The dispatcher Lambda, its local poller and `pivfleet run` all call `dispatch_run`.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from pivfleet.collecting import Collector, record_failed_pairs
from pivfleet.layout import Layout
from pivfleet.messages import TileJob
from pivfleet.planning import FrameReader, RunPlan, plan_run
from pivfleet.ports import BlobStore
from pivfleet.spec import RunSpec

SEND_BATCH_SIZE = 10
"""SQS SendMessageBatch takes at most 10 entries."""
SEND_THREADS = 8


def send_jobs(send: Callable[[list[str]], None], jobs: list[TileJob]) -> None:
    """Send in batches of ten, several batches at a time (each is one HTTP round trip)."""
    bodies = [job.model_dump_json() for job in jobs]
    batches = [bodies[i : i + SEND_BATCH_SIZE] for i in range(0, len(bodies), SEND_BATCH_SIZE)]
    if len(batches) <= 1:
        for batch in batches:
            send(batch)
        return
    with ThreadPoolExecutor(SEND_THREADS) as pool:
        list(pool.map(send, batches))


def dispatch_run(
    spec: RunSpec,
    names: list[str],
    read: FrameReader,
    stores: tuple[BlobStore, BlobStore],
    layout: Layout,
    send: Callable[[list[str]], None],
    key_prefix: str = "",
) -> RunPlan | None:
    """Plan and enqueue `spec`; None if this run was already dispatched (a redelivery)."""
    work, outputs = stores
    if work.exists(layout.plan()):
        return None
    plan, jobs = plan_run(spec, names, read, key_prefix)
    if not work.put_if_absent(layout.plan(), plan.model_dump_json().encode()):
        return None
    record_failed_pairs(plan, work, layout)
    send_jobs(send, jobs)
    if not jobs:
        Collector(work, outputs, layout, plan).finish_run()
    return plan
