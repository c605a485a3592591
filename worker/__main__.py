"""`python -m worker`: one consume loop per process (default one per core)."""

from __future__ import annotations

import logging
import sys

from pivfleet.cloud import runtime
from pivfleet.cloud.config import CloudConfig
from pivfleet.cloud.deployment import Deployment
from pivfleet.cloud.logs import configure_json_logging
from pivfleet.core.errors import PivfleetError
from pivfleet.core.keys import bucket_keys
from pivfleet.roles.consumer import Consumer, Intake
from pivfleet.roles.worker import Worker, Workspace, process_tile

log = logging.getLogger("worker")


def work(config: CloudConfig) -> None:
    """One process's loop: SIGTERM stops receiving and starts the drain clock."""
    runtime.prepare_worker_process(config)
    stop, deployment = runtime.stop_on_signals(), Deployment.connect(config)
    queues = runtime.when_reachable(
        lambda: (deployment.jobs_queue(config.algorithm), deployment.results_queue()),
        f"{config.name_prefix} queues at {deployment.endpoint}",
        stop,
    )
    if queues is None:
        return
    jobs, results = queues
    space = Workspace(deployment.inputs(), deployment.outputs())
    worker = Worker(
        results,
        lambda job: process_tile(job, space, bucket_keys(job.run, job.generation)),
        config.worker_size,
    )
    consumer = Consumer(worker.metered(jobs), worker, Intake(lease=config.job_lease))
    runtime.drain_on_sigterm(stop, config.drain_seconds, consumer.release)
    log.info("worker started", extra={"queue": jobs.name})
    consumer.run(stop)


def main() -> int:
    try:
        config = CloudConfig.from_env()
    except PivfleetError as error:
        configure_json_logging()
        log.error(str(error))
        return 2
    configure_json_logging(config.log_level)
    runtime.run_processes(lambda: work(config), config.worker_processes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
