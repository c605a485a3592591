"""The dispatcher checks a run's algorithms and parameters when it plans the run, never after:
a bad run.json is rejected before any job, and a notification redelivered while the run is
under way does not reject it, even if the check would now fail (its algorithms redeployed)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tifffile

from pivfleet.core.errors import SettingsError
from pivfleet.core.keys import bucket_keys
from pivfleet.core.ports import Message
from pivfleet.core.spec import RunSpec
from pivfleet.core.summary import RunSummary
from pivfleet.roles import dispatcher as dispatcher_module
from pivfleet.roles.dispatcher import Dispatcher
from pivfleet.transports.file_store import FileBlobStore
from pivfleet.transports.memory_queue import InMemoryQueue

NOTIFICATION = '{"Records": [{"eventTime": "2026-11-24T22:30:00.000Z", ' + (
    '"s3": {"object": {"key": "run/run.json", "sequencer": "01"}}}]}'
)


def uploaded(tmp_path: Path, spec: dict[str, object]) -> tuple[FileBlobStore, FileBlobStore]:
    """A run's two frames and its run.json in the input store; an empty output store."""
    inputs, outputs = FileBlobStore(tmp_path / "in"), FileBlobStore(tmp_path / "out")
    (tmp_path / "in" / "run").mkdir(parents=True)
    pixels = np.random.default_rng(0).integers(0, 255, (256, 256), dtype=np.uint8)
    for side in "ab":
        tifffile.imwrite(tmp_path / "in" / "run" / f"p_{side}.tif", pixels)
    inputs.put("run/run.json", json.dumps({"run": "run", "frames": 2, **spec}).encode())
    return inputs, outputs


def summary(outputs: FileBlobStore) -> RunSummary | None:
    if not outputs.exists("run/summary.json"):
        return None
    return RunSummary.model_validate_json(outputs.get("run/summary.json"))


def test_parameters_the_algorithm_refuses_reject_the_run_before_any_job(tmp_path: Path) -> None:
    inputs, outputs = uploaded(tmp_path, {"algorithm_parameters": {"bogus": 1}})
    jobs = InMemoryQueue("jobs")
    Dispatcher(inputs, outputs, lambda _: jobs).handle(Message(NOTIFICATION, receipt="r"))
    rejected = summary(outputs)
    assert rejected is not None and rejected.status == "rejected"
    assert "unknown ['bogus']" in str(rejected.message)
    assert len(jobs) == 0


def test_a_redelivery_does_not_reject_a_run_under_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inputs, outputs = uploaded(tmp_path, {"tiling": "none"})
    jobs = InMemoryQueue("jobs")
    dispatcher = Dispatcher(inputs, outputs, lambda _: jobs)
    dispatcher.handle(Message(NOTIFICATION, receipt="r"))
    assert len(jobs) == 1

    def refuse(spec: RunSpec) -> None:
        raise SettingsError("the algorithm was redeployed without this parameter")

    monkeypatch.setattr(dispatcher_module, "check_run", refuse)
    dispatcher.handle(Message(NOTIFICATION, receipt="r2"))
    assert summary(outputs) is None, "the run goes on"
    generation = outputs.get(bucket_keys("run", "x").current()).decode()
    assert outputs.exists(bucket_keys("run", generation).jobs_sent())
    assert len(jobs) == 1, "no job sent again"
