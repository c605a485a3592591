"""Lambda entry: an SQS batch of TileResults → stitched pair outputs and run summaries.

Settings are read on the first call, not at import, so the module imports anywhere. Poison
pills go to the dead-letter queue at once; only transient failures are retried."""

from __future__ import annotations

from functools import cache

from pivfleet.cloud.runtime import connect_role, lambda_handler
from pivfleet.roles.collector import ResultCollector
from pivfleet.transports.sqs import SqsJobQueue

deployment = cache(connect_role)


@cache
def collector() -> ResultCollector:
    return deployment().result_collector()


@cache
def results() -> SqsJobQueue:
    return deployment().results_queue()


handle = lambda_handler(collector, results)
