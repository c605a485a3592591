"""The collector on S3: results for any run, plans read once per run and cached."""

from __future__ import annotations

import logging
from functools import lru_cache

from pydantic import ValidationError

from pivfleet.aws import S3BlobStore
from pivfleet.collecting import Collected, Collector
from pivfleet.layout import cloud_layout
from pivfleet.messages import TileResult, parse_message
from pivfleet.planning import RunPlan

log = logging.getLogger(__name__)
PLANS_CACHED = 32


class PoisonMessageError(ValueError):
    """A results message that can never be processed: dead-letter it."""


@lru_cache(maxsize=PLANS_CACHED)
def collector_for(bucket: str, run: str) -> Collector:
    store = S3BlobStore(bucket)
    layout = cloud_layout(run)
    plan = RunPlan.model_validate_json(store.get(layout.plan()))
    return Collector(store, store, layout, plan)


def parse_result(body: str) -> TileResult:
    try:
        message = parse_message(body)
    except ValidationError as error:
        raise PoisonMessageError(
            f"invalid message: {error.errors(include_url=False)[:3]}"
        ) from None
    if not isinstance(message, TileResult):
        raise PoisonMessageError(f"expected a tile_result, got {message.kind}")
    return message


def collect_body(bucket: str, body: str) -> Collected:
    result = parse_result(body)
    collected = collector_for(bucket, result.run).collect(result)
    if collected.pair is not None:
        log.info(
            "pair finished",
            extra={"run": result.run, "pair": result.pair, "status": collected.pair.status},
        )
    if collected.summary is not None:
        log.info("run finished", extra={"run": result.run, "status": collected.summary.status})
    return collected
