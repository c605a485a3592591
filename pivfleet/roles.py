"""Shared start-up for the long-running roles: wait for the queue, stop on SIGTERM."""

from __future__ import annotations

import logging
import signal
import threading
import time

from botocore.exceptions import BotoCoreError, ClientError

from pivfleet.aws import SqsJobQueue, client
from pivfleet.event_source import Handler, poll_forever

log = logging.getLogger(__name__)
CONNECT_BACKOFF_MAX_SECONDS = 10.0


def open_queue(name: str, stop: threading.Event) -> SqsJobQueue | None:
    """Open a queue, retrying with backoff while the endpoint or bootstrap is not ready."""
    delay = 0.5
    while not stop.is_set():
        try:
            return SqsJobQueue(name)
        except (BotoCoreError, ClientError) as error:
            endpoint = client("sqs").meta.endpoint_url
            log.warning(
                "queue not reachable yet",
                extra={"queue": name, "endpoint": endpoint, "error": str(error)},
            )
            stop.wait(delay)
            delay = min(CONNECT_BACKOFF_MAX_SECONDS, delay * 2)
    return None


def stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    return stop


def run_poller(queue_name: str, handler: Handler) -> None:
    stop = stop_on_signals()
    queue = open_queue(queue_name, stop)
    if queue is not None:
        poll_forever(queue, handler, stop)
    log.info("stopped", extra={"queue": queue_name, "at": time.time()})
