"""docker-compose.yml's topology, run without Docker: every service as a host process.

The test reads docker-compose.yml and, for every service that `docker compose up` starts (all but
`localstack` and the services behind a profile), takes its command (entrypoint + command) and its
environment exactly as compose would resolve them (`${VAR:-default}` with the defaults, and a
per-test PIVFLEET_NAME_PREFIX as a user's .env would give it), with the LocalStack endpoint of the
compose network mapped to this session's LocalStack. Nothing else from the test's own environment
reaches the processes, so a variable the code needs and compose does not set fails here.

Order as in compose: `bootstrap` runs to completion first (depends_on:
service_completed_successfully), then dispatcher, worker x2 (`--scale worker=2`) and collector
start. OpenPIV's test1 pair is submitted with `pivfleet submit` in the `cli` service's
environment, and the run must finish with its outputs downloadable by `pivfleet results`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from pivfleet.cli.samples import copy_samples
from tests.integration.helpers import wait_for
from tests.unit.test_compose_file import INTERPOLATION, command, environment

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
COMPOSE_ENDPOINT = "http://localstack:4566"
LONG_RUNNING = ("dispatcher", "worker", "collector")
WORKER_SCALE = 2
RUN = "compose"
RUN_TIMEOUT = 45.0
# What a container has without any compose setting: a PATH, a HOME, a temp dir.
HOST_BASICS = ("PATH", "HOME", "TMPDIR", "LANG", "LC_ALL")
pytestmark = pytest.mark.usefixtures("localstack_endpoint")


def load_services() -> dict[str, dict[str, Any]]:
    document = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    services: dict[str, dict[str, Any]] = document["services"]
    return services


def started_by_up(services: dict[str, dict[str, Any]]) -> list[str]:
    """The services `docker compose up` starts, LocalStack aside (the session runs its own)."""
    return [n for n, s in services.items() if n != "localstack" and not s.get("profiles")]


def interpolate(value: str, variables: dict[str, str]) -> str:
    """Compose interpolation: `${VAR:-default}`/`${VAR-default}`/`$VAR` from `variables`."""

    def one(match: Any) -> str:
        name = match.group(1) or match.group(4)
        operator, default = match.group(2), match.group(3) or ""
        if operator in (":?", "?") and not variables.get(name):
            raise AssertionError(f"compose requires {name}: {default}")
        if name in variables and (variables[name] or operator != ":-"):
            return variables[name]
        return default if operator in (":-", "-") else ""

    return INTERPOLATION.sub(one, value).replace("$$", "$")


def host_command(service: dict[str, Any]) -> list[str]:
    """The service's command, with the image's interpreter and console script mapped here."""
    parts = command(service)
    assert parts, f"service has no command: {service}"
    program, *args = parts
    if program in ("python", "python3"):
        return [sys.executable, *args]
    if program == "pivfleet":
        return [sys.executable, "-m", "pivfleet.cli", *args]
    raise AssertionError(f"no host equivalent for {program!r} (command {parts})")


def host_environment(
    service: dict[str, Any], variables: dict[str, str], endpoint: str
) -> dict[str, str]:
    env = {k: os.environ[k] for k in HOST_BASICS if k in os.environ}
    resolved = {k: interpolate(v, variables) for k, v in environment(service).items()}
    assert resolved.get("AWS_ENDPOINT_URL") == COMPOSE_ENDPOINT, resolved
    resolved["AWS_ENDPOINT_URL"] = endpoint
    env.update(resolved)
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Stack:
    """Host processes standing in for compose's containers; all stopped at the end."""

    def __init__(self, folder: Path, variables: dict[str, str], endpoint: str) -> None:
        self.folder, self.variables, self.endpoint = folder, variables, endpoint
        self.services = load_services()
        self.workdir = folder / "workdir"  # not the repo: the code must come from the install
        self.workdir.mkdir()
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: dict[str, Path] = {}

    def env(self, name: str) -> dict[str, str]:
        return host_environment(self.services[name], self.variables, self.endpoint)

    def run_once(self, name: str, *extra: str, timeout: float = 60) -> str:
        """A one-shot service (or `cli` with another command) run to completion."""
        argv = host_command(self.services[name])
        if extra:
            argv = [sys.executable, "-m", "pivfleet.cli", *extra]
        done = subprocess.run(
            argv, cwd=self.workdir, env=self.env(name), capture_output=True, text=True,
            timeout=timeout, check=False,
        )  # fmt: skip
        assert done.returncode == 0, f"{name} {extra} exited {done.returncode}:\n{done.stderr}"
        return done.stdout

    def start(self, name: str, replica: int = 1) -> None:
        log = self.folder / f"{name}-{replica}.log"
        self.logs[f"{name}-{replica}"] = log
        with log.open("wb") as out:
            self.processes[f"{name}-{replica}"] = subprocess.Popen(
                host_command(self.services[name]),
                cwd=self.workdir,
                env=self.env(name),
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def records(self, key: str) -> list[dict[str, Any]]:
        lines = self.logs[key].read_text(errors="replace").splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def stop(self) -> dict[str, int | None]:
        """SIGTERM (compose's stop_signal), then SIGKILL whatever is still running."""
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        codes: dict[str, int | None] = {}
        for key, process in self.processes.items():
            try:
                codes[key] = process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
                codes[key] = None
        return codes

    def dump_logs(self) -> str:
        return "\n".join(f"--- {k}\n{p.read_text()[-3000:]}" for k, p in self.logs.items())


@pytest.fixture
def stack(tmp_path: Path, aws_prefix: str, localstack_endpoint: str) -> Iterator[Stack]:
    # The variables a user's .env would set: only the name prefix, unique to this test.
    started = Stack(tmp_path, {"PIVFLEET_NAME_PREFIX": aws_prefix}, localstack_endpoint)
    try:
        yield started
    finally:
        started.stop()
        print(started.dump_logs())  # shown by pytest when the test failed


def output_keys(bucket: str, prefix: str) -> list[str]:
    pages = (
        boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    )
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def test_services_started_by_up_are_the_pipeline() -> None:
    assert started_by_up(load_services()) == ["bootstrap", *LONG_RUNNING]


def test_interpolation_defaults_and_variables() -> None:
    variables = {"SET": "x", "EMPTY": ""}
    assert interpolate("${UNSET:-d}", variables) == "d"
    assert interpolate("${EMPTY:-d}", variables) == "d"
    assert interpolate("${EMPTY-d}", variables) == ""
    assert interpolate("${SET:-d}/$SET/$$SET", variables) == "x/x/$SET"


def test_compose_services_as_host_processes(stack: Stack, aws_prefix: str, tmp_path: Path) -> None:
    services = started_by_up(stack.services)
    assert services[0] == "bootstrap"
    # The name prefix flows from the (test's) .env into every service, so nothing collides.
    for name in [*services, "cli"]:
        assert stack.env(name)["PIVFLEET_NAME_PREFIX"] == aws_prefix, name

    print(stack.run_once("bootstrap"))
    for name in LONG_RUNNING:
        for replica in range(1, (WORKER_SCALE if name == "worker" else 1) + 1):
            stack.start(name, replica)

    samples = copy_samples(tmp_path / "samples")
    pair_input = tmp_path / "input"
    pair_input.mkdir()
    for frame in samples:
        if frame.name.startswith("test1_"):
            shutil.copyfile(frame, pair_input / frame.name)
    assert sorted(p.name for p in pair_input.iterdir()) == ["test1_a.bmp", "test1_b.bmp"]
    stack.run_once(
        "cli", "submit", str(pair_input), "--run", RUN, "--tiling", "256",
        "--windows", "32,16", "--overlap", "16,8",
    )  # fmt: skip

    output = f"{aws_prefix}-output"
    s3 = boto3.client("s3")
    wait_for(lambda: output_keys(output, f"{RUN}/summary.json"), RUN_TIMEOUT, f"{RUN}/summary.json")
    summary = json.loads(s3.get_object(Bucket=output, Key=f"{RUN}/summary.json")["Body"].read())
    assert summary["status"] == "done", summary
    assert summary["tiles"] > 1, summary
    keys = output_keys(output, f"{RUN}/")
    assert {f"{RUN}/test1.txt", f"{RUN}/test1.nc"} <= set(keys), keys

    fetched = tmp_path / "fetched"
    print(stack.run_once("cli", "results", RUN, "--out", str(fetched)))
    for name in ("test1.txt", "test1.nc", "summary.json"):
        assert (fetched / name).stat().st_size > 0, name
    assert (fetched / "test1.txt").read_bytes() == s3.get_object(
        Bucket=output, Key=f"{RUN}/test1.txt"
    )["Body"].read()

    # Both replicas of the scaled worker came up on the windef queue.
    for replica in range(1, WORKER_SCALE + 1):
        started = [
            r for r in stack.records(f"worker-{replica}") if r["message"] == "worker started"
        ]
        assert started and started[0]["queue"] == f"{aws_prefix}-jobs-windef", replica
    # compose stops with SIGTERM; every long-running service exits cleanly (restart: on-failure
    # would otherwise restart it).
    assert stack.stop() == dict.fromkeys(stack.processes, 0)
