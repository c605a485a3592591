"""Helpers for the pipeline tests: role processes, polling with deadlines, queue counts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import boto3

from pivfleet.core.spec import RunSpec
from tests.noop_algorithm import ENTRY_POINT

REPO_ROOT = Path(__file__).resolve().parents[2]
PIVFLEET_CLI = str(Path(sys.executable).parent / "pivfleet")
T = TypeVar("T")


def wait_for(check: Callable[[], T | None], timeout: float, what: str, every: float = 0.2) -> T:
    """Poll `check` until it returns something truthy, or fail saying what never happened."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


def noop_plugin(folder: Path) -> Path:
    """A dist-info registering `noop` under pivfleet.algorithms, as a user's plugin would.

    The product registers only real algorithms; with this and the repository on PYTHONPATH the
    roles find noop through the same entry-point lookup."""
    info = folder / "pivfleet_test_noop-0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: pivfleet-test-noop\nVersion: 0\n")
    (info / "entry_points.txt").write_text(f"[pivfleet.algorithms]\n{ENTRY_POINT}\n")
    return folder


def role_env(prefix: str, **settings: str) -> dict[str, str]:
    env = dict(os.environ, PIVFLEET_NAME_PREFIX=prefix, PYTHONUNBUFFERED="1")
    plugins = str(noop_plugin(Path(tempfile.gettempdir()) / "pivfleet-test-plugins"))
    paths = [plugins, str(REPO_ROOT), env.get("PYTHONPATH")]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, paths))
    env.update({f"PIVFLEET_{name.upper()}": value for name, value in settings.items()})
    return env


class Role:
    """`python -m dispatcher|worker|collector` with its JSON log in a file."""

    def __init__(self, module: str, log: Path, env: dict[str, str]) -> None:
        self.module, self.log = module, log
        self._out = log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", module],
            cwd=REPO_ROOT,
            env=env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )

    def records(self) -> list[dict[str, Any]]:
        lines = self.log.read_text(errors="replace").splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def messages(self, text: str) -> list[dict[str, Any]]:
        return [r for r in self.records() if r.get("message") == text]

    def signal(self, number: int) -> None:
        self.process.send_signal(number)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self._out.close()


class Roles:
    """Every role process a test started; all are killed at the end, whatever happened."""

    def __init__(self, folder: Path, prefix: str) -> None:
        self.folder, self.prefix = folder, prefix
        self.started: list[Role] = []

    def start(self, module: str, **settings: str) -> Role:
        name = f"{module}-{len(self.started)}.log"
        role = Role(module, self.folder / name, role_env(self.prefix, **settings))
        self.started.append(role)
        return role

    def stop_all(self) -> None:
        for role in self.started:
            role.stop()

    def logs(self) -> str:
        return "\n".join(f"--- {r.log.name}\n{r.log.read_text()[-3000:]}" for r in self.started)


class Cloud:
    """Plain boto3 views of one test's buckets and queues."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.input, self.output = f"{prefix}-input", f"{prefix}-output"
        self.s3: Any = boto3.client("s3")
        self.sqs: Any = boto3.client("sqs")

    def url(self, queue: str) -> str:
        return str(self.sqs.get_queue_url(QueueName=f"{self.prefix}-{queue}")["QueueUrl"])

    def counts(self, queue: str) -> tuple[int, int]:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.url(queue), AttributeNames=names)
        visible, hidden = (int(attributes["Attributes"][n]) for n in names)
        return visible, hidden

    def idle(self, queue: str) -> bool:
        return self.counts(queue) == (0, 0)

    def set_visibility(self, queue: str, seconds: int) -> None:
        self.sqs.set_queue_attributes(
            QueueUrl=self.url(queue), Attributes={"VisibilityTimeout": str(seconds)}
        )

    def put(self, key: str, data: bytes) -> None:
        self.s3.put_object(Bucket=self.input, Key=key, Body=data)

    def submit(self, spec: RunSpec, frames: dict[str, bytes]) -> None:
        """Frames under `<run>/`, then run.json declaring their count (as `pivfleet submit`
        writes it), with plain puts."""
        for name, data in frames.items():
            self.put(f"{spec.run}/{name}", data)
        declared = spec.model_copy(update={"frames": spec.frames or len(frames)})
        self.put(f"{spec.run}/run.json", declared.model_dump_json().encode())

    def output_keys(self, prefix: str) -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.output, Prefix=prefix)
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))

    def work_keys(self, run: str, part: str) -> list[str]:
        """Keys of `runs/<run>/<generation>/<part>…`, in whichever generation holds them."""
        keys = self.output_keys(f"runs/{run}/")
        return [k for k in keys if k.count("/") >= 3 and k.split("/", 3)[3].startswith(part)]

    def get(self, key: str) -> bytes:
        return bytes(self.s3.get_object(Bucket=self.output, Key=key)["Body"].read())

    def summary(self, run: str) -> dict[str, Any] | None:
        if f"{run}/summary.json" not in self.output_keys(f"{run}/summary.json"):
            return None
        summary: dict[str, Any] = json.loads(self.get(f"{run}/summary.json"))
        return summary

    def drain(self, queue: str) -> list[dict[str, Any]]:
        """Peek (visibility 0, no delete) at every message now in a queue, attributes included."""
        seen: dict[str, dict[str, Any]] = {}
        for _ in range(20):
            batch = self.sqs.receive_message(
                QueueUrl=self.url(queue), MaxNumberOfMessages=10, WaitTimeSeconds=0,
                VisibilityTimeout=0, MessageAttributeNames=["All"],
                MessageSystemAttributeNames=["ApproximateReceiveCount"],
            ).get("Messages", [])  # fmt: skip
            if not batch:
                break
            seen.update({m["MessageId"]: m for m in batch})
        return list(seen.values())


def cli(prefix: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PIVFLEET_CLI, *args],
        check=False,
        cwd=REPO_ROOT,
        env=role_env(prefix),
        capture_output=True,
        text=True,
        timeout=60,
    )
