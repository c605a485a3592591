"""`python -m worker`: one consume loop per process (default one per core)."""

from __future__ import annotations

import logging
import multiprocessing
import signal
import sys

from pivfleet.config import CloudConfig
from pivfleet.errors import PivfleetError
from pivfleet.logs import configure_json_logging
from pivfleet.roles import open_queue, stop_on_signals
from pivfleet.topology import jobs_queue, results_queue
from pivfleet.worker_loop import WorkerLoop

log = logging.getLogger("worker")


def consume(config: CloudConfig) -> None:
    """One process's loop: SIGTERM stops receiving and starts the drain clock."""
    stop = stop_on_signals()
    jobs = open_queue(jobs_queue(config.algorithm, config.name_prefix).name, stop)
    results = open_queue(results_queue(config.name_prefix).name, stop)
    if jobs is None or results is None:
        return
    loop = WorkerLoop(config, jobs, results, stop=stop)
    signal.signal(signal.SIGTERM, lambda *_: loop.drain())
    log.info("worker started", extra={"queue": jobs.name})
    loop.run()


def supervise(config: CloudConfig) -> None:
    """Start one process per core and pass SIGTERM on to each."""
    children = [
        multiprocessing.Process(target=consume, args=(config,))
        for _ in range(config.worker_processes)
    ]
    for child in children:
        child.start()

    def forward(*_: object) -> None:
        for child in children:
            if child.is_alive():
                child.terminate()

    signal.signal(signal.SIGTERM, forward)
    for child in children:
        child.join()


def main() -> int:
    configure_json_logging()
    try:
        config = CloudConfig.from_env()
    except PivfleetError as error:
        log.error(str(error))
        return 2
    if config.worker_processes == 1:
        consume(config)
    else:
        supervise(config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
