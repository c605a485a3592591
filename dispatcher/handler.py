"""Lambda entry: an SQS batch of S3 `run.json` notifications → dispatched runs.

Settings are read on the first call, not at import, so the module imports anywhere."""

from __future__ import annotations

from functools import cache

from pivfleet.cloud.runtime import connect_role, lambda_handler
from pivfleet.roles.dispatcher import Dispatcher
from pivfleet.transports.sqs import SqsJobQueue

deployment = cache(connect_role)


@cache
def dispatcher() -> Dispatcher:
    return deployment().dispatcher()


@cache
def uploads() -> SqsJobQueue:
    return deployment().uploads_queue()


handle = lambda_handler(dispatcher, uploads)
