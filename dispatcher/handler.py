"""Lambda entry: an SQS batch of S3 notifications → dispatched runs."""

from __future__ import annotations

import logging
from typing import Any

from pivfleet.config import CloudConfig
from pivfleet.dispatching import dispatch_key, s3_keys
from pivfleet.logs import configure_json_logging

log = logging.getLogger("dispatcher")
configure_json_logging()
CONFIG = CloudConfig.from_env()


def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Report records that failed so only they are retried (ReportBatchItemFailures)."""
    failures = []
    for record in event.get("Records", []):
        try:
            for _bucket, key in s3_keys(record["body"]):
                dispatch_key(CONFIG, key)
        except Exception:
            log.exception("dispatch failed", extra={"message_id": record.get("messageId")})
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
