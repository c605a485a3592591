"""The command line's shape: `pivfleet schema`."""

from __future__ import annotations

import json

import pytest

from pivfleet.cli.main import main
from pivfleet.core.spec import RunSpec


def test_schema_prints_the_run_spec_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    printed = capsys.readouterr().out
    assert json.loads(printed) == RunSpec.model_json_schema()
    assert printed.startswith('{\n  "')  # indented for a reader, not one long line
