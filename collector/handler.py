"""Lambda entry (and the local poller's handler): an SQS batch of TileResults."""

from __future__ import annotations

import logging
from typing import Any

from pivfleet.aws import SqsJobQueue
from pivfleet.collecting_cloud import PoisonMessageError, collect_body
from pivfleet.config import CloudConfig
from pivfleet.logs import configure_json_logging
from pivfleet.topology import results_queue

log = logging.getLogger("collector")
configure_json_logging()
CONFIG = CloudConfig.from_env()


def dead_letter(record: dict[str, Any], reason: str) -> None:
    SqsJobQueue(results_queue(CONFIG.name_prefix).name).send_dead_letter(record["body"], reason)


def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    failures = []
    for record in event.get("Records", []):
        try:
            collect_body(CONFIG.output_bucket, record["body"])
        except PoisonMessageError as error:
            log.error("dead-lettering a malformed result", extra={"reason": str(error)})
            dead_letter(record, str(error))
        except Exception:
            log.exception("collect failed", extra={"message_id": record.get("messageId")})
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
