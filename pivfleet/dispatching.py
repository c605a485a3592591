"""The dispatcher's work on one S3 notification: read the run spec, pair, plan, enqueue."""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import unquote_plus

from pydantic import ValidationError

from pivfleet.aws import S3BlobStore, SqsJobQueue, queue_exists
from pivfleet.config import CloudConfig
from pivfleet.dispatch import dispatch_run
from pivfleet.errors import PivfleetError
from pivfleet.imaging import decode_frame
from pivfleet.layout import cloud_layout
from pivfleet.spec import RunSpec, describe_validation
from pivfleet.summary import rejected
from pivfleet.topology import RUN_SPEC_FILENAME, jobs_queue

log = logging.getLogger(__name__)


def s3_keys(body: str) -> list[tuple[str, str]]:
    """(bucket, key) of each S3 record in an SQS body; keys arrive URL-encoded (`+` = space)."""
    event = json.loads(body)
    records = event.get("Records", [])
    return [(r["s3"]["bucket"]["name"], unquote_plus(r["s3"]["object"]["key"])) for r in records]


def run_folder(key: str) -> str | None:
    """`<run>/run.json` → `<run>`; anything else is not ours."""
    folder, _, name = key.rpartition("/")
    return folder if name == RUN_SPEC_FILENAME and folder and "/" not in folder else None


def read_spec(inputs: S3BlobStore, key: str, folder: str) -> RunSpec:
    try:
        spec = RunSpec.model_validate_json(inputs.get(key))
    except ValidationError as error:
        raise PivfleetError(f"{key}: {describe_validation(error)}") from None
    if spec.run != folder:
        raise PivfleetError(
            f"{key} says run {spec.run!r} but lies under {folder}/: make them match"
        )
    return spec


def dispatch_key(config: CloudConfig, key: str) -> dict[str, Any]:
    """Dispatch the run whose run.json is `key`; a bad spec is recorded as rejected."""
    folder = run_folder(key)
    if folder is None:
        log.debug("ignoring unrelated key", extra={"key": key})
        return {"ignored": key}
    inputs, outputs = S3BlobStore(config.input_bucket), S3BlobStore(config.output_bucket)
    layout = cloud_layout(folder)
    try:
        spec = read_spec(inputs, key, folder)
        queue_name = jobs_queue(spec.algorithm, config.name_prefix).name
        if not queue_exists(queue_name):
            raise PivfleetError(f"unknown algorithm {spec.algorithm!r}: no queue {queue_name}")
        names = [k for k in inputs.list(f"{folder}/") if k != key]
        plan = dispatch_run(
            spec, names, lambda name: decode_frame(inputs.get(name), name),
            (outputs, outputs), layout, SqsJobQueue(queue_name).send, key_prefix=f"{folder}/",
        )  # fmt: skip
    except PivfleetError as error:
        log.warning("run rejected", extra={"run": folder, "reason": str(error)})
        outputs.put_if_absent(
            layout.summary(), rejected(folder, str(error)).model_dump_json().encode()
        )
        return {"rejected": folder, "reason": str(error)}
    if plan is None:
        return {"duplicate": folder}
    tiles = sum(p.tile_count for p in plan.pairs)
    log.info("run dispatched", extra={"run": folder, "pairs": len(plan.pairs), "tiles": tiles})
    return {"dispatched": folder, "tiles": tiles}
