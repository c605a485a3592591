"""Worker log lines are JSON, and the tile line is a valid CloudWatch embedded metric."""

from __future__ import annotations

import json
import logging

from pivfleet.cloud.logs import JsonFormatter
from pivfleet.roles.metrics import METRIC_NAMESPACE, tile_metric


def format_line(message: str, **extra: object) -> dict:
    record = logging.LogRecord("worker", logging.INFO, __file__, 1, message, None, None)
    record.__dict__.update(extra)
    return json.loads(JsonFormatter().format(record))


def test_extra_fields_become_top_level_keys() -> None:
    line = format_line("tile processed", run="r1", pair="p", tile=3, seconds=1.5, bytes=1024)
    assert line["message"] == "tile processed" and line["level"] == "info"
    assert (line["run"], line["pair"], line["tile"], line["bytes"]) == ("r1", "p", 3, 1024)


def test_tile_line_declares_tile_seconds_as_an_embedded_metric() -> None:
    line = format_line("tile processed", **tile_metric("windef", 2.25))
    declaration = line["_aws"]["CloudWatchMetrics"][0]
    assert declaration["Namespace"] == METRIC_NAMESPACE
    assert {"Name": "TileSeconds", "Unit": "Seconds"} in declaration["Metrics"]
    for dimension_set in declaration["Dimensions"]:
        assert all(name in line for name in dimension_set)
    assert line["TileSeconds"] == 2.25 and isinstance(line["_aws"]["Timestamp"], int)
