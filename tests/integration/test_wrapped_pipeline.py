"""A wrapped executable in the cloud pipeline, on LocalStack with real processes: `pivfleet
bootstrap` gives each spec of PIVFLEET_ALGORITHM_SPECS its queue (and refuses a bad spec before
creating anything); the C example, compiled here with `cc`, runs dispatcher → its own queue
`<prefix>-jobs-blockmatch` → a worker running the spec → collector, and its vectors equal the
program's own on the whole frames. The dispatcher is started without the spec: it plans by the
copy bootstrap stored."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile
import yaml

from pivfleet.core.spec import PivSettings, RunSpec
from tests.blockmatch_by_hand import EXAMPLE, assert_same_vectors, by_hand, compile_blockmatch
from tests.integration.helpers import PIVFLEET_CLI, REPO_ROOT, Cloud, Roles, role_env, wait_for
from tests.synthetic import make_pair, uniform
from tests.unit.test_algorithm_spec import BAD_SPECS

PIV = PivSettings(windows=(32,), overlaps=(16,))
SHAPE = (192, 288)
RUN_TIMEOUT = 90.0
pytestmark = pytest.mark.usefixtures("localstack_endpoint")


@pytest.fixture(scope="module")
def blockmatch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The C example compiled with the host's `cc`."""
    if shutil.which("cc") is None:
        pytest.fail("no C compiler `cc` on this host: install gcc or clang", pytrace=False)
    return compile_blockmatch("cc", tmp_path_factory.mktemp("bin"))


def spec_folder(folder: Path, document: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{document.get('id', 'spec')}.cwl.yml").write_text(yaml.safe_dump(document))
    return folder


def example(binary: Path | None = None, **job: Any) -> dict[str, Any]:
    """The example's spec, running `binary`, with `job` in its pivfleet:Job hint."""
    document: dict[str, Any] = yaml.safe_load((EXAMPLE / "algorithm.cwl.yml").read_text())
    if binary is not None:
        document["baseCommand"] = [str(binary)]
    document["hints"]["pivfleet:Job"].update(job)
    return document


def bootstrap(prefix: str, specs: Path) -> subprocess.CompletedProcess[str]:
    env = role_env(prefix, algorithm_specs=str(specs))
    return subprocess.run(
        [PIVFLEET_CLI, "bootstrap"], env=env, cwd=REPO_ROOT, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.parametrize(("change", "field", "fix"), BAD_SPECS)
def test_bootstrap_refuses_a_bad_spec_before_creating_anything(
    tmp_path: Path, aws_prefix: str, change: Any, field: str, fix: str
) -> None:
    document = example()
    change(document)
    specs = spec_folder(tmp_path / "specs", document)
    result = bootstrap(aws_prefix, specs)
    assert result.returncode == 2, result
    assert str(specs / "blockmatch.cwl.yml") in result.stderr
    assert field in result.stderr and fix in result.stderr and "Traceback" not in result.stderr
    cloud = Cloud(aws_prefix)
    assert not cloud.sqs.list_queues(QueueNamePrefix=aws_prefix).get("QueueUrls")
    buckets = {b["Name"] for b in cloud.s3.list_buckets()["Buckets"]}
    assert not {cloud.input, cloud.output} & buckets


def tiff(frame: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, frame)
    return buffer.getvalue()


def deploy(blockmatch: Path, folder: Path, prefix: str, tiles: str) -> tuple[Cloud, Path]:
    """`pivfleet bootstrap` with the example's spec (its `tiles` set) in the specs folder."""
    document = example(blockmatch, tiles=tiles)
    if tiles == "whole":
        del document["hints"]["pivfleet:Job"]["haloPixels"]  # a whole pair has no halo
    specs = spec_folder(folder / "specs", document)
    result = bootstrap(prefix, specs)
    assert result.returncode == 0, result.stderr
    assert "specs stored for the dispatcher: blockmatch" in result.stdout
    cloud = Cloud(prefix)
    assert cloud.idle("jobs-blockmatch") and cloud.idle("jobs-blockmatch-dlq")
    stored = json.loads(cloud.get("algorithms/blockmatch.cwl.json"))
    assert stored["hints"]["pivfleet:Job"]["tiles"] == tiles
    return cloud, specs


@pytest.mark.parametrize(("tiles", "cut"), [("halo", True), ("whole", False)])
def test_the_c_example_runs_on_its_own_queue_and_matches_the_program_by_hand(
    blockmatch: Path, roles: Roles, tmp_path: Path, tiles: str, cut: bool
) -> None:
    cloud, specs = deploy(blockmatch, tmp_path, roles.prefix, tiles)
    roles.start("dispatcher")  # without the spec: it plans by the copy bootstrap stored
    worker = roles.start(
        "worker", algorithm="blockmatch", algorithm_specs=str(specs), worker_processes="1"
    )
    roles.start("collector")
    pair = make_pair(SHAPE, uniform(3.2, -1.7))
    spec = RunSpec(run="wrapped", algorithm="blockmatch", piv=PIV, tiling=96)
    cloud.submit(spec, {"p/x_a.tif": tiff(pair.frame_a), "p/x_b.tif": tiff(pair.frame_b)})
    summary = wait_for(lambda: cloud.summary("wrapped"), RUN_TIMEOUT, "wrapped/summary.json")
    assert summary["status"] == "done" and (summary["tiles"] > 1) == cut, summary
    assert worker.messages("tile processed"), "the blockmatch worker processed nothing"
    got = np.loadtxt(io.BytesIO(cloud.get("wrapped/p/x.txt")))
    assert_same_vectors(got, by_hand(blockmatch, (pair.frame_a, pair.frame_b), tmp_path / "hand"))
