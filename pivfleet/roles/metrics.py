"""CloudWatch embedded-metric fields: CloudWatch Logs turns a log line carrying them into a
metric, with no PutMetricData call (no endpoint needed in private subnets)."""

from __future__ import annotations

import time

METRIC_NAMESPACE = "pivfleet"


def tile_metric(algorithm: str, seconds: float) -> dict[str, object]:
    """The `TileSeconds` metric of one tile, by algorithm."""
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
