"""Structured JSON logs: one object per line, with run, pair, tile, seconds, bytes."""

from __future__ import annotations

import json
import logging
import os
import sys
import time

STANDARD_FIELDS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
METRIC_NAMESPACE = "pivfleet"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in STANDARD_FIELDS})
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_json_logging() -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(os.environ.get("PIVFLEET_LOG_LEVEL", "INFO").upper())
    logging.getLogger("botocore").setLevel(logging.WARNING)


def tile_metric(algorithm: str, seconds: float) -> dict[str, object]:
    """CloudWatch embedded-metric fields: CloudWatch Logs turns the log line into the
    `TileSeconds` metric, with no PutMetricData call (no endpoint needed in private subnets)."""
    declaration = {
        "Namespace": METRIC_NAMESPACE,
        "Dimensions": [["algorithm"]],
        "Metrics": [{"Name": "TileSeconds", "Unit": "Seconds"}],
    }
    return {
        "_aws": {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": [declaration]},
        "algorithm": algorithm,
        "TileSeconds": seconds,
    }
