"""The worker image's contract, without Docker: install as worker.Dockerfile does, run its CMD.

The test reads docker/worker.Dockerfile and follows it on the host:
- the builder stage's COPY lines pick what is copied from the repository into a scratch source
  folder (the image's WORKDIR), so only what the image gets is there;
- its RUN lines run as written (fresh `python -m venv`, requirements generated from the lock by
  docker/requirements_from_lock.py, `pip install --only-binary=:all: -r -c`, `pip install
  --no-deps .` non-editable, the lock `verify` and the entry-module check), with /opt/venv and
  /opt/pivfleet mapped to scratch folders and pip's cache allowed (the image disables it only to
  keep it out of the layer);
- the final stage's ENV and CMD (`python -m worker`) start the worker from a folder outside the
  repository, with only the AWS settings for this session's LocalStack and a name prefix added.

The worker must wait for its queue while the bootstrap has not run (logging the endpoint), then
process the tile jobs of a dispatched run of OpenPIV's test1 pair, and exit 0 on SIGTERM.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

import boto3
import openpiv
import pytest

from pivfleet.cli.samples import SAMPLE_PAIRS
from pivfleet.cloud.bootstrap import bootstrap
from pivfleet.cloud.config import CloudConfig
from pivfleet.cloud.deployment import Deployment
from pivfleet.cloud.submission import submit
from pivfleet.core.spec import PivSettings, RunSpec
from tests.integration.helpers import wait_for

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "docker" / "worker.Dockerfile"
IMAGE_VENV, IMAGE_LOCK = "/opt/venv", "/opt/pivfleet"
INSTALL_TIMEOUT = 240
RUN = "contract"
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("localstack_endpoint")]


# ---------------------------------------------------------------------------------------------
# Reading the Dockerfile
# ---------------------------------------------------------------------------------------------
def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined as Docker joins them."""
    joined = re.sub(r"\\\n", "", text)
    result = []
    for raw in joined.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def stages(text: str) -> dict[str, list[tuple[str, str]]]:
    """Instructions per stage name (`FROM x AS name`); the last stage is also under ''."""
    found: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for keyword, rest in instructions(text):
        if keyword == "FROM":
            match = re.search(r"\bAS\s+(\S+)\s*$", rest, re.IGNORECASE)
            current = found.setdefault(match.group(1) if match else rest, [])
            found[""] = current
        elif current is not None:
            current.append((keyword, rest))
    return found


def without_options(arguments: str) -> str:
    """Drop leading `--mount=...`/`--chown=...` style options of RUN and COPY."""
    return re.sub(r"^(?:--\S+\s+)*", "", arguments)


def expand(value: str, scope: dict[str, str]) -> str:
    """`$VAR` and `${VAR}` from `scope` (unset: empty), as Dockerfile ENV substitution does."""

    def one(match: re.Match[str]) -> str:
        return scope.get(match.group(1), "")

    return re.sub(r"\$\{?(\w+)\}?", one, value)


def env_assignments(arguments: str, env: dict[str, str]) -> dict[str, str]:
    """`ENV A=1 B=$B:x` -> values, expanding $VAR/${VAR} from `env` as the builder does."""
    values: dict[str, str] = {}
    for token in shlex.split(arguments):
        name, sep, value = token.partition("=")
        assert sep, f"ENV {arguments!r}: only the KEY=value form is followed here"
        values[name] = expand(value, {**env, **values})
    return values


class Image:
    """worker.Dockerfile mapped onto scratch folders of the host."""

    def __init__(self, root: Path) -> None:
        self.stages = stages(DOCKERFILE.read_text(encoding="utf-8"))
        self.venv, self.lock = root / "venv", root / "lock"
        self.root, self.src, self.home = root, root / "src", root / "home"
        self.home.mkdir(parents=True)

    def host_path(self, text: str) -> str:
        return text.replace(IMAGE_VENV, str(self.venv)).replace(IMAGE_LOCK, str(self.lock))

    def build(self, log: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_NO_CACHE", "VIRTUAL"))}
        env["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{env['PATH']}"
        workdir = self.root  # the image's / until WORKDIR
        for keyword, arguments in self.stages["builder"]:
            if keyword == "ENV":
                values = env_assignments(arguments, env)
                values.pop("PIP_NO_CACHE_DIR", None)  # the test keeps pip's cache
                env.update({k: self.host_path(v) for k, v in values.items()})
            elif keyword == "WORKDIR":  # the builder has one: where the sources go
                workdir = self.src
                workdir.mkdir(parents=True, exist_ok=True)
            elif keyword == "COPY":
                self.copy(without_options(arguments), workdir)
            elif keyword == "RUN":
                script = self.host_path(without_options(arguments)).replace(" --no-cache-dir", "")
                with log.open("a") as out:
                    out.write(f"\n$ {script}\n")
                    out.flush()
                    done = subprocess.run(
                        ["sh", "-ec", script], cwd=workdir, env=env, stdout=out,
                        stderr=subprocess.STDOUT, timeout=INSTALL_TIMEOUT, check=False,
                    )  # fmt: skip
                assert done.returncode == 0, f"RUN failed: {script}\n{log.read_text()[-4000:]}"

    def copy(self, arguments: str, workdir: Path) -> None:
        *sources, destination = shlex.split(arguments)
        target = workdir / destination
        for source in sources:
            origin = REPO / source
            if origin.is_dir():
                shutil.copytree(origin, target, dirs_exist_ok=True)
            else:
                folder = target if destination.endswith("/") else target.parent
                folder.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(
                    origin, folder / origin.name if destination.endswith("/") else target
                )

    def runtime_env(self) -> dict[str, str]:
        """The final stage's ENV on top of a bare container environment."""
        env = {"PATH": os.environ["PATH"], "HOME": str(self.home)}
        for keyword, arguments in self.stages[""]:
            if keyword == "ENV":
                env.update(
                    {k: self.host_path(v) for k, v in env_assignments(arguments, env).items()}
                )
        return env

    def cmd(self) -> list[str]:
        commands = [json.loads(a) for k, a in self.stages[""] if k == "CMD"]
        assert commands, "worker.Dockerfile has no exec-form CMD"
        program, *args = commands[-1]
        resolved = shutil.which(program, path=self.runtime_env()["PATH"])
        assert resolved and Path(resolved).parent == self.venv / "bin", (program, resolved)
        return [resolved, *args]


# ---------------------------------------------------------------------------------------------
# The test
# ---------------------------------------------------------------------------------------------
def records(log: Path) -> list[dict[str, Any]]:
    lines = log.read_text(errors="replace").splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


def logged(log: Path, message: str) -> list[dict[str, Any]]:
    return [r for r in records(log) if r.get("message") == message]


def take_bodies(sqs: Any, url: str, into: dict[str, dict[str, Any]]) -> None:
    """Receive (and delete) what the queue holds now into `into`, by message id."""
    batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
        "Messages", []
    )
    for message in batch:
        into[message["MessageId"]] = json.loads(message["Body"])
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def assert_installed_in_venv(image: Image) -> None:
    """The entry modules import from the venv's site-packages (non-editable), not the repo."""
    where = subprocess.run(
        [str(image.venv / "bin" / "python"), "-c",
         "import worker, pivfleet; print(worker.__file__, pivfleet.__file__)"],
        cwd=image.home, env=image.runtime_env(), capture_output=True, text=True, check=True,
    )  # fmt: skip
    for path in where.stdout.split():
        assert Path(path).is_relative_to(image.venv), f"not installed non-editably: {path}"


def submit_and_dispatch_test1(frames: Path, config: CloudConfig) -> dict[str, Any]:
    """Upload OpenPIV's test1 pair as a 4-tile run and plan it as the dispatcher would."""
    frames.mkdir()
    data = Path(openpiv.__file__).parent / "data" / "test1"
    for letter, name in zip("ab", SAMPLE_PAIRS["test1"], strict=True):
        shutil.copyfile(data / name, frames / f"test1_{letter}.bmp")
    spec = RunSpec(run=RUN, tiling=256, piv=PivSettings(windows=(32, 16), overlaps=(16, 8)))
    deployment = Deployment.connect(config)
    submit(deployment, frames, spec)
    return deployment.dispatcher().dispatch_key(f"{RUN}/run.json")


def test_dockerfile_is_followed_as_written() -> None:
    """The steps the contract test replays are the ones it knows how to map."""
    parsed = stages(DOCKERFILE.read_text(encoding="utf-8"))
    runs = " ".join(a for k, a in parsed["builder"] if k == "RUN")
    assert "python -m venv /opt/venv" in runs
    assert "requirements_from_lock.py write /opt/pivfleet" in runs
    assert "pip install --no-cache-dir --no-deps ." in runs
    assert "requirements_from_lock.py verify" in runs
    assert json.loads([a for k, a in parsed[""] if k == "CMD"][-1]) == ["python", "-m", "worker"]


def test_worker_installed_like_the_image_runs_its_cmd(
    tmp_path: Path, aws_prefix: str, localstack_endpoint: str
) -> None:
    image = Image(tmp_path / "image")
    image.build(tmp_path / "build.log")
    assert_installed_in_venv(image)

    env = image.runtime_env()
    env.update(
        AWS_ENDPOINT_URL=localstack_endpoint, AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1", AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
        PIVFLEET_NAME_PREFIX=aws_prefix, PIVFLEET_WORKER_PROCESSES="1",
    )  # fmt: skip
    assert env["PIVFLEET_ALGORITHM"] == "windef"  # the image's default algorithm
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen(
            image.cmd(), cwd=image.home, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        # Started before the bootstrap: it waits for its queue and says where it looked.
        waiting = wait_for(lambda: logged(log, "not reachable yet"), 30, "a waiting log")
        assert localstack_endpoint in waiting[0]["what"], waiting[0]
        assert worker.poll() is None

        config = CloudConfig.from_env({"PIVFLEET_NAME_PREFIX": aws_prefix})
        bootstrap(config, ["windef"])
        started = wait_for(lambda: logged(log, "worker started"), 30, "the worker to start")
        assert started[0]["queue"] == f"{aws_prefix}-jobs-windef"

        print(submit_and_dispatch_test1(tmp_path / "frames", config))

        sqs = boto3.client("sqs")
        results_url = sqs.get_queue_url(QueueName=f"{aws_prefix}-results")["QueueUrl"]
        jobs_url = sqs.get_queue_url(QueueName=f"{aws_prefix}-jobs-windef")["QueueUrl"]

        taken: dict[str, dict[str, Any]] = {}

        def all_results() -> list[dict[str, Any]] | None:
            take_bodies(sqs, results_url, taken)
            return list(taken.values()) if len(taken) >= 4 else None

        results = wait_for(all_results, 60, "4 tile results", every=0.1)
        assert sorted(r["tile"] for r in results) == [0, 1, 2, 3], results
        assert {r["run"] for r in results} == {RUN}
        assert all(r["kind"] == "tile_result" for r in results), results
        assert all(r["status"] == "done" and r["key"] for r in results), results
        s3 = boto3.client("s3")
        for result in results:  # the tile vectors the worker wrote, where the result points
            assert s3.head_object(Bucket=config.output_bucket, Key=result["key"])["ContentLength"]
        assert len(logged(log, "tile processed")) == 4
        attributes = sqs.get_queue_attributes(
            QueueUrl=jobs_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        assert set(attributes.values()) == {"0"}, attributes

        worker.send_signal(signal.SIGTERM)  # the image's STOPSIGNAL
        assert worker.wait(30) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)
        print(log.read_text()[-4000:])
