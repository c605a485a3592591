"""Start-up and shutdown shared by the long-running roles: wait for the endpoint, stop on
SIGTERM, one process per core, and the worker's drain."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from pivfleet.cloud.config import CloudConfig, program_environment
from pivfleet.cloud.deployment import Deployment
from pivfleet.cloud.logs import configure_json_logging
from pivfleet.core.backoff import backoff_seconds
from pivfleet.core.ports import JobQueue
from pivfleet.core.topology import (
    POLLER_LEASE_SECONDS,
    POLLER_RENEW_SECONDS,
    SQS_MAX_BATCH_MESSAGES,
)
from pivfleet.roles.consumer import Consumer, Intake, Role, decide, prepare
from pivfleet.roles.heartbeat import Lease
from pivfleet.roles.worker import prepare_process
from pivfleet.transports.lambda_events import messages_from_event, settle_batch
from pivfleet.transports.sqs import SqsJobQueue

log = logging.getLogger(__name__)
T = TypeVar("T")
CONNECT_BASE_SECONDS = 0.5
CONNECT_MAX_SECONDS = 10.0
NOT_READY_ERRORS = (BotoCoreError, ClientError)


class EndpointUnreachableError(ConnectionError):
    """The endpoint did not answer within the attempts allowed."""


def when_reachable(
    call: Callable[[], T], what: str, stop: threading.Event, attempts: int | None = None
) -> T | None:
    """`call()`, retried with backoff while the endpoint or bootstrap is not ready yet (compose
    starts roles beside a booting LocalStack). None if `stop` is set first."""
    attempt = 0
    while not stop.is_set():
        attempt += 1
        try:
            return call()
        except NOT_READY_ERRORS as error:
            if attempts is not None and attempt >= attempts:
                raise EndpointUnreachableError(
                    f"{what}: no answer after {attempt} tries ({error})"
                ) from error
            delay = backoff_seconds(attempt, CONNECT_BASE_SECONDS, CONNECT_MAX_SECONDS)
            log.warning(
                "not reachable yet", extra={"what": what, "error": str(error), "retry_in": delay}
            )
            stop.wait(delay)
    return None


def prepare_worker_process(config: CloudConfig) -> None:
    """A worker process's settings: its engine threads, the algorithm specs it may run, and
    the environment their commands see (no credentials)."""
    prepare_process(config.threads, config.algorithm_specs, program_environment())


def stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    return stop


POLLER_INTAKE = Intake(
    batch_size=SQS_MAX_BATCH_MESSAGES, lease=Lease(POLLER_RENEW_SECONDS, POLLER_LEASE_SECONDS)
)


def serve(open_queue: Callable[[], JobQueue], role: Role, what: str) -> None:
    """A Lambda role as a local poller: the same role, batches of SQS's maximum, each message
    held on a short lease so a killed poller's messages come back in seconds."""
    stop = stop_on_signals()
    queue = when_reachable(open_queue, what, stop)
    if queue is not None:
        log.info("polling", extra={"queue": queue.name})
        Consumer(queue, role, POLLER_INTAKE).run(stop)
    log.info("stopped", extra={"queue": what})


def run_processes(target: Callable[[], None], count: int) -> None:
    """`target` in `count` processes; SIGTERM is passed on to each, and we wait for all."""
    if count == 1:
        target()
        return
    children = [multiprocessing.Process(target=target) for _ in range(count)]
    for child in children:
        child.start()

    def forward(*_: object) -> None:
        for child in children:
            if child.is_alive():
                child.terminate()

    signal.signal(signal.SIGTERM, forward)
    for child in children:
        child.join()


def drain_on_sigterm(stop: threading.Event, seconds: float, release: Callable[[], None]) -> None:
    """SIGTERM: stop receiving; if the job in hand still runs after `seconds`, `release` it for
    another worker and exit (Fargate kills 120 s after SIGTERM)."""

    def release_and_exit() -> None:
        release()
        os._exit(0)

    def drain(*_: object) -> None:
        stop.set()
        timer = threading.Timer(seconds, release_and_exit)
        timer.daemon = True
        timer.start()

    signal.signal(signal.SIGTERM, drain)


def connect_role() -> Deployment:
    """A role's start: read the settings, switch to JSON logs at their level, connect."""
    config = CloudConfig.from_env()
    configure_json_logging(config.log_level)
    return Deployment.connect(config)


def lambda_handler(
    role: Callable[[], Role], queue: Callable[[], SqsJobQueue]
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """A Lambda SQS handler running `role` on each record under the one message policy; only
    the records to retry are reported (ReportBatchItemFailures)."""

    def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
        messages = messages_from_event(event)
        prepare(role(), messages)
        settled = [(m, decide(role(), m)) for m in messages]
        return settle_batch(queue(), settled)

    return handle
