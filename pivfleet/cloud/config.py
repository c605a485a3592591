"""Cloud settings, read once from the environment at an entry point and passed down."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pivfleet.core.cost import WorkerSize
from pivfleet.core.errors import SettingsError
from pivfleet.core.machine import available_cores
from pivfleet.core.topology import (
    DEFAULT_ALGORITHM,
    DEFAULT_NAME_PREFIX,
    HEARTBEAT_INTERVAL_SECONDS,
    JOB_VISIBILITY_TIMEOUT_SECONDS,
    input_bucket,
    output_bucket,
)
from pivfleet.roles.heartbeat import Lease

DEFAULT_DRAIN_SECONDS = 100
"""SIGTERM budget: Fargate kills 120 s after SIGTERM at most, so finish or release before."""
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name)
    if text in (None, ""):
        return default
    try:
        value = float(text)
    except ValueError:
        raise SettingsError(
            f"{name}={text!r} is not a number; unset it or give e.g. {default:g}"
        ) from None
    if value < 0:
        raise SettingsError(f"{name}={text!r} must not be negative")
    return value


def _count(env: Mapping[str, str], name: str, default: int) -> int:
    """A count of processes or threads: a whole number, 1 or more. Refused, not clamped: a 0
    or 2.5 is a mistake the user should see, not a setting quietly read as another."""
    value = _number(env, name, default)
    if value < 1 or value != int(value):
        raise SettingsError(
            f"{name}={env[name]!r}: use a whole number, 1 or more; unset it for {default}"
        )
    return int(value)


def worker_size(env: Mapping[str, str] | None = None, processes: int = 1) -> WorkerSize:
    """One worker process's share of its task: PIVFLEET_WORKER_VCPU and
    PIVFLEET_WORKER_MEMORY_GB are the task's (terraform sets them from the algorithm's `cpu`
    and `memory`) and its `processes` share them; unset, each process has the default task's
    1 vCPU and 4 GB. `pivfleet run` prices each of its processes as one such task."""
    env = os.environ if env is None else env
    default = WorkerSize()
    vcpu = _number(env, "PIVFLEET_WORKER_VCPU", default.vcpu * processes)
    memory = _number(env, "PIVFLEET_WORKER_MEMORY_GB", default.memory_gb * processes)
    if not vcpu or not memory:
        raise SettingsError("PIVFLEET_WORKER_VCPU and PIVFLEET_WORKER_MEMORY_GB must be above 0")
    return WorkerSize(vcpu=vcpu / processes, memory_gb=memory / processes)


def algorithm_specs(env: Mapping[str, str] | None = None) -> Path | None:
    """PIVFLEET_ALGORITHM_SPECS: the folder of algorithm specs (wrapped executables) this
    process may run, or None."""
    env = os.environ if env is None else env
    folder = env.get("PIVFLEET_ALGORITHM_SPECS")
    return Path(folder) if folder else None


HIDDEN_FROM_PROGRAMS = ("AWS_", "PIVFLEET_")
"""Prefixes of the variables a wrapped executable's command does not see: the account's
settings and credentials (ECS hands a task's role to it as AWS_CONTAINER_CREDENTIALS_*), and
pivfleet's own."""


def program_environment(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment wrapped commands run with: this process's, less HIDDEN_FROM_PROGRAMS
    (the image's own PATH, LD_LIBRARY_PATH, licence settings… pass through)."""
    env = os.environ if env is None else env
    return {k: v for k, v in env.items() if not k.startswith(HIDDEN_FROM_PROGRAMS)}


def _log_level(env: Mapping[str, str]) -> str:
    level = (env.get("PIVFLEET_LOG_LEVEL") or "INFO").upper()
    if level not in LOG_LEVELS:
        raise SettingsError(f"PIVFLEET_LOG_LEVEL={level!r}: use one of {', '.join(LOG_LEVELS)}")
    return level


@dataclass(frozen=True)
class CloudConfig:
    name_prefix: str = DEFAULT_NAME_PREFIX
    input_bucket: str = input_bucket()
    output_bucket: str = output_bucket()
    algorithm: str = DEFAULT_ALGORITHM
    worker_processes: int = 1
    threads: int = 1
    """Engine threads per worker process (`engine/threads.py`)."""
    drain_seconds: float = DEFAULT_DRAIN_SECONDS
    heartbeat_seconds: float = HEARTBEAT_INTERVAL_SECONDS
    visibility_seconds: int = JOB_VISIBILITY_TIMEOUT_SECONDS
    log_level: str = "INFO"
    region: str | None = None
    """AWS_REGION (Lambda, ECS and most users set it; botocore reads only AWS_DEFAULT_REGION)."""
    worker_size: WorkerSize = field(default_factory=WorkerSize)
    """Each worker process's vCPUs and memory, which its results' usage is counted in."""
    algorithm_specs: Path | None = None
    """The folder of algorithm specs (PIVFLEET_ALGORITHM_SPECS): wrapped executables."""

    @property
    def job_lease(self) -> Lease:
        """How a worker holds its job: hidden `visibility_seconds`, renewed every heartbeat."""
        return Lease(self.heartbeat_seconds, self.visibility_seconds)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> CloudConfig:
        """Read `PIVFLEET_*`; a malformed value stops the process with its name."""
        env = os.environ if env is None else env
        prefix = env.get("PIVFLEET_NAME_PREFIX") or DEFAULT_NAME_PREFIX
        processes = _count(env, "PIVFLEET_WORKER_PROCESSES", available_cores())
        return cls(
            name_prefix=prefix,
            input_bucket=env.get("PIVFLEET_INPUT_BUCKET") or input_bucket(prefix),
            output_bucket=env.get("PIVFLEET_OUTPUT_BUCKET") or output_bucket(prefix),
            algorithm=env.get("PIVFLEET_ALGORITHM") or DEFAULT_ALGORITHM,
            worker_processes=processes,
            threads=_count(env, "PIVFLEET_THREADS", 1),
            drain_seconds=_number(env, "PIVFLEET_DRAIN_SECONDS", DEFAULT_DRAIN_SECONDS),
            heartbeat_seconds=_number(
                env, "PIVFLEET_HEARTBEAT_SECONDS", HEARTBEAT_INTERVAL_SECONDS
            ),
            visibility_seconds=int(
                _number(env, "PIVFLEET_VISIBILITY_SECONDS", JOB_VISIBILITY_TIMEOUT_SECONDS)
            ),
            log_level=_log_level(env),
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None,
            worker_size=worker_size(env, processes),
            algorithm_specs=algorithm_specs(env),
        )
