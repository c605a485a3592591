"""docs/cloud.md's run with the AWS CLI alone, run as the page writes it: the block's own
commands through `bash`, the AWS CLI the LocalStack venv installs, only the bucket prefix,
FRAMES/ and RESULTS/ replaced. Frames first, `run.json` last, the results synced back."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from pivfleet.cloud.bootstrap import bootstrap
from pivfleet.cloud.config import CloudConfig
from tests.integration.conftest import localstack_python
from tests.integration.helpers import Cloud, Roles, wait_for
from tests.synthetic import make_pair, uniform, write_pair

pytestmark = pytest.mark.usefixtures("localstack_endpoint")

REPO = Path(__file__).resolve().parents[2]
RUN = "exp42"
PAIRS = 4
"""docs/cloud.md's run.json declares `frames: 8`: four pairs."""
RUN_TIMEOUT = 180.0


def aws_cli_block() -> tuple[str, str]:
    """The page's AWS CLI block, split at its blank line: the upload, then the download."""
    text = (REPO / "docs" / "cloud.md").read_text()
    blocks = re.findall(r"^```sh\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    (block,) = [b for b in blocks if "aws s3 cp run.json" in b]
    upload, download = block.split("\n\n")
    return upload, download


def as_here(commands: str, prefix: str, frames: Path, results: Path) -> str:
    """The block for this test's buckets and folders; nothing else changes."""
    commands = commands.replace("s3://pivfleet-", f"s3://{prefix}-")
    return commands.replace("FRAMES/", f"{frames}/").replace("RESULTS/", f"{results}/")


def bash(commands: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    aws = Path(localstack_python()).parent  # localstack-core installs the AWS CLI there
    env = {**os.environ, "PATH": f"{aws}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(
        ["bash", "-e", "-c", commands],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.fixture
def pipeline(roles: Roles, aws_prefix: str) -> Cloud:
    bootstrap(CloudConfig.from_env({"PIVFLEET_NAME_PREFIX": aws_prefix}), ["windef"])
    for role in ("dispatcher", "collector"):
        roles.start(role)
    roles.start("worker", worker_processes="1")
    return Cloud(aws_prefix)


def test_the_aws_cli_alone_runs_the_docs_flow(
    pipeline: Cloud, aws_prefix: str, tmp_path: Path
) -> None:
    frames, results = tmp_path / "frames", tmp_path / "results"
    frames.mkdir()
    for index in range(PAIRS):
        write_pair(frames, f"p{index}", make_pair((256, 256), uniform(2.5, -1.0), 8, index))
    upload, download = (as_here(c, aws_prefix, frames, results) for c in aws_cli_block())

    uploaded = bash(upload, tmp_path)
    assert uploaded.returncode == 0, uploaded.stderr
    summary = wait_for(lambda: pipeline.summary(RUN), RUN_TIMEOUT, f"{RUN}/summary.json")
    assert summary["status"] == "done" and summary["pairs_done"] == PAIRS
    wait_for(lambda: f"{RUN}/run.nc" in pipeline.output_keys(f"{RUN}/"), 60, "run.nc")

    downloaded = bash(download, tmp_path)
    assert downloaded.returncode == 0, downloaded.stderr
    assert pipeline.get(f"{RUN}/summary.json").decode() in downloaded.stdout  # `cp … -` prints it
    names = {path.name for path in results.iterdir()}
    assert {"summary.json", "run.nc", "p0.txt", "p0.nc", "p3.nc"} <= names
