"""A two-step run on LocalStack with real processes: the example's background subtraction
(examples/two_step, a wrapped script) on its own queue and worker, then windef on its own, the
collector sending each pair's PIV jobs when its step is done. The outputs equal `pivfleet run`'s
of the same run.json; a step that fails fails only its pair."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from pivfleet.cli.embedded import EmbeddedRun
from pivfleet.cloud.bootstrap import bootstrap
from pivfleet.cloud.config import CloudConfig
from pivfleet.core.spec import ImageStep, RunSpec
from tests.integration.helpers import Cloud, Roles
from tests.integration.test_crashes import RECOVERY_SECONDS, killed
from tests.integration.test_pipeline import SMALL_PIV, pair_frames, wait_summary
from tests.integration.test_wrapped_pipeline import tiff
from tests.synthetic import make_pair, uniform

EXAMPLE = Path(__file__).parents[2] / "examples" / "two_step"
pytestmark = pytest.mark.usefixtures("localstack_endpoint")


@pytest.fixture
def cloud(aws_prefix: str) -> Cloud:
    bootstrap(CloudConfig.from_env({"PIVFLEET_NAME_PREFIX": aws_prefix}), ["windef", "background"])
    return Cloud(aws_prefix)


@pytest.fixture
def specs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The example's spec, its script run by this host's Python (the image's is not here)."""
    folder = tmp_path / "specs"
    folder.mkdir()
    document = yaml.safe_load((EXAMPLE / "background.cwl.yml").read_text())
    document["baseCommand"] = [sys.executable, str(EXAMPLE / "subtract_background.py")]
    (folder / "background.cwl.yml").write_text(yaml.safe_dump(document))
    return folder


def two_step_spec(run: str, tiling: int | str) -> RunSpec:
    step = ImageStep(algorithm="background", parameters={"radius": 5})
    return RunSpec(run=run, steps=[step], piv=SMALL_PIV, tiling=tiling)


@pytest.mark.parametrize("tiling", ["none", 128])
def test_a_two_step_run_equals_the_embedded_one(
    cloud: Cloud, roles: Roles, specs: Path, tmp_path: Path, tiling: int | str
) -> None:
    roles.start("dispatcher")
    roles.start("collector")
    windef = roles.start("worker", algorithm="windef", worker_processes="1")
    background = roles.start(
        "worker", algorithm="background", algorithm_specs=str(specs), worker_processes="1"
    )
    spec = two_step_spec("steps", tiling)
    cloud.submit(spec, pair_frames("p", "q"))
    summary = wait_summary(cloud, "steps", 180)
    assert summary["status"] == "done", summary
    stepped = {r["pair"] for r in background.messages("tile processed")}
    measured = {r["pair"] for r in windef.messages("tile processed")}
    assert stepped == measured == {"p/exp1_001", "q/exp1_001"}
    local_in = tmp_path / "in"
    for name, data in pair_frames("p").items():
        (local_in / name).parent.mkdir(parents=True, exist_ok=True)
        (local_in / name).write_bytes(data)
    EmbeddedRun(spec, local_in, tmp_path / "local", workers=1, algorithm_specs=specs).execute()
    local_text = (tmp_path / "local" / "p" / "exp1_001.txt").read_bytes()
    assert cloud.get("steps/p/exp1_001.txt") == local_text
    assert cloud.get("steps/q/exp1_001.txt") == local_text  # the same frames


PICKY = (
    "import sys, numpy as np\n"
    "a, b = (np.load(p) for p in sys.argv[1:3])\n"
    "if a.shape[1] == 200: sys.exit('no particles in this pair: ' + str(a.shape))\n"
    "np.save('a.npy', a); np.save('b.npy', b)"
)
"""An image step that refuses frames 200 px wide, exiting 1 (retryable: retried, then given up)."""


def test_a_failing_step_fails_only_its_pair(
    cloud: Cloud, roles: Roles, specs: Path, aws_prefix: str
) -> None:
    document = yaml.safe_load((specs / "background.cwl.yml").read_text())
    document["baseCommand"] = [sys.executable, "-c", PICKY]
    document["inputs"].pop("radius")
    document["hints"]["pivfleet:Job"]["permanentExitCodes"] = [1]
    (specs / "background.cwl.yml").write_text(yaml.safe_dump(document))
    roles.start("dispatcher")
    roles.start("collector")
    roles.start("worker", algorithm="windef", worker_processes="1")
    roles.start("worker", algorithm="background", algorithm_specs=str(specs))
    narrow = make_pair((192, 200), uniform(2.0, 1.0))
    frames = pair_frames("good")
    frames |= {"bad/x_a.tif": tiff(narrow.frame_a), "bad/x_b.tif": tiff(narrow.frame_b)}
    spec = RunSpec(run="half", steps=[ImageStep(algorithm="background")], piv=SMALL_PIV)
    cloud.submit(spec, frames)
    summary = wait_summary(cloud, "half", 120)
    pairs = {p["pair"]: p for p in summary["pairs"]}
    assert summary["status"] == "partial", summary
    assert pairs["good/exp1_001"]["status"] == "done"
    assert cloud.output_keys("half/good/") == ["half/good/exp1_001.nc", "half/good/exp1_001.txt"]
    [error] = pairs["bad/x"]["errors"]
    assert error.startswith("image step 1 (background): failed on half/bad/x_a.tif: "), error
    assert "exited 1 (permanent)" in error and "no particles in this pair: (192, 200)" in error
    assert cloud.output_keys("half/bad/") == []


def test_a_collector_killed_after_a_step_sends_the_pair_on_once(
    cloud: Cloud, roles: Roles, specs: Path
) -> None:
    """It dies after recording the step's result, before sending the PIV jobs: the result
    comes back after its lease and the next collector sends them, once."""
    roles.start("dispatcher")
    windef = roles.start("worker", algorithm="windef", worker_processes="1")
    roles.start("worker", algorithm="background", algorithm_specs=str(specs))
    crashing = roles.start("tests.crashing_role", test_crash="collector:after_step")
    cloud.submit(two_step_spec("resumed", "none"), pair_frames("p"))
    killed(crashing, "the collector to die after the step")
    assert cloud.work_keys("resumed", "steps/p/exp1_001/0/result.json")
    assert not cloud.work_keys("resumed", "steps/p/exp1_001/0/next-sent")
    roles.start("collector")
    summary = wait_summary(cloud, "resumed", RECOVERY_SECONDS)
    assert summary["status"] == "done", summary
    assert len(windef.messages("tile processed")) == 1  # the PIV job, sent once
