"""Run ids named like the output bucket's own folders are refused: a run's outputs go to
`<run>/` there, and dispatching it deletes what that folder held (for `algorithms`, the specs
`pivfleet bootstrap` stored)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from pivfleet.core.keys import WORK_PREFIX
from pivfleet.core.ports import Message
from pivfleet.core.spec import RunSpec, describe_validation
from pivfleet.core.topology import ALGORITHM_SPECS_PREFIX, algorithm_spec_key
from pivfleet.roles.dispatcher import Dispatcher
from pivfleet.transports.file_store import FileBlobStore
from pivfleet.transports.memory_queue import InMemoryQueue


@pytest.mark.parametrize("run", [WORK_PREFIX, ALGORITHM_SPECS_PREFIX.rstrip("/")])
def test_a_reserved_run_id_is_refused_naming_the_setting_and_the_fix(run: str) -> None:
    with pytest.raises(ValidationError) as refused:
        RunSpec(run=run)
    message = describe_validation(refused.value)
    assert message.startswith(f"run: '{run}' is reserved: the output bucket's `{run}/` holds")
    assert "choose another run name (run.json's `run`, --run)" in message
    assert RunSpec(run=f"{run}-2").run == f"{run}-2"


def test_an_upload_of_algorithms_run_json_leaves_the_stored_specs(tmp_path: Path) -> None:
    inputs, outputs = FileBlobStore(tmp_path / "in"), FileBlobStore(tmp_path / "out")
    spec = algorithm_spec_key("my-algo")
    outputs.put(spec, b'{"id": "my-algo"}')
    inputs.put("algorithms/run.json", b'{"run": "algorithms"}')
    inputs.put("algorithms/a_001.tif", b"frame")
    notification = '{"Records": [{"eventTime": "2026-11-24T06:16:00.120Z", ' + (
        '"s3": {"object": {"key": "algorithms/run.json", "sequencer": "01"}}}]}'
    )
    dispatcher = Dispatcher(inputs, outputs, lambda _: InMemoryQueue("jobs"))
    dispatcher.handle(Message(notification, receipt="r"))
    assert outputs.get(spec) == b'{"id": "my-algo"}'
    assert outputs.list("") == [spec], "nothing claimed, planned or summarised"
