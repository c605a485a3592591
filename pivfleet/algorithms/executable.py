"""A wrapped executable as an algorithm: any program an algorithm spec describes
(`core/algorithm_spec.py`), run once per job in a fresh work folder.

The job's crops are staged as files, the command runs without a shell (its arguments a list),
its output lines go to the log as they come, and its time limit is enforced. The exit code
decides: 0 reads the output file back onto the job's grid; a code the spec calls permanent
fails the tile at once; any other (a retryable code, a crash, a time-out) is retried by the
consume loop. Either error carries the last lines of stderr."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import tempfile
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from pivfleet.algorithms.staging import stage_frame
from pivfleet.algorithms.vector_files import VectorFileError, read_vectors
from pivfleet.core.algorithm_spec import (
    FRAME_INPUTS,
    AlgorithmSpec,
    FileOutput,
    FrameInput,
    argument_list,
    parameter_values,
)
from pivfleet.core.errors import PermanentJobError, RetryableJobError
from pivfleet.core.imaging import Frame
from pivfleet.core.spec import PivSettings
from pivfleet.core.tiling import TileMode, grid_shape
from pivfleet.core.vectors import Vectors

log = logging.getLogger("algorithm")
STDERR_TAIL_LINES = 20
"""The last lines of stderr kept for the reason a job failed."""
PIPE_CLOSE_SECONDS = 5
"""How long to wait for the output readers after the command ends (a child it left behind may
hold the pipes open)."""
_program_environment: dict[str, dict[str, str] | None] = {"variables": None}
"""What every command's environment is (`use_program_environment`); None: this process's."""


def use_program_environment(environment: Mapping[str, str] | None) -> None:
    """Run every wrapped command of this process with `environment`: the entry points give
    their own without credentials or pivfleet's settings (`cloud/config.py`), so a program
    gets no keys to the account."""
    _program_environment["variables"] = None if environment is None else dict(environment)


@dataclass(frozen=True)
class Completion:
    """How the command ended: its exit code (negative: the signal that killed it), whether the
    time limit killed it, and the end of its stderr."""

    returncode: int
    timed_out: bool
    stderr_tail: str


class ExecutableAlgorithm:
    """The algorithm an `AlgorithmSpec` describes (registered by `algorithms/registry.py`)."""

    def __init__(self, spec: AlgorithmSpec, source: str) -> None:
        self.spec, self.source, self.name = spec, source, spec.name
        self.tiles: TileMode = spec.job.tiles
        self.halo_pixels = spec.job.halo_pixels or 0
        """At least this halo around its halo tiles' cores (the planner's own may be wider)."""

    def check_parameters(self, parameters: dict[str, Any]) -> None:
        parameter_values(self.spec, parameters)

    def process(
        self, frame_a: Frame, frame_b: Frame, piv: PivSettings, parameters: dict[str, Any]
    ) -> Vectors:
        values = parameter_values(self.spec, parameters)
        window, step = piv.windows[-1], piv.steps[-1]
        values.update(window=window, step=step)
        with tempfile.TemporaryDirectory(prefix=f"pivfleet-{self.name}-") as scratch:
            work = Path(scratch)
            staged = self.stage(work, (frame_a, frame_b))
            self.run(argument_list(self.spec, values, staged), work)
            shape = grid_shape(frame_a.shape[:2], window, step)
            return self.vectors(work, shape, window, step)

    def stage(self, work: Path, frames: tuple[Frame, Frame]) -> dict[str, Path]:
        staged = {}
        for name, frame in zip(FRAME_INPUTS, frames, strict=True):
            declared = self.spec.inputs[name]
            assert isinstance(declared, FrameInput)  # the spec's validator made sure
            staged[name] = stage_frame(work, name, frame, declared.format)
        return staged

    def run(self, argv: list[str], work: Path) -> None:
        """Run the command in `work`; raise unless it exits 0."""
        try:
            completion = run_command(argv, work, self.spec.timeout_seconds, self.name)
        except (FileNotFoundError, PermissionError) as error:
            raise PermanentJobError(
                f"{self.source}: cannot run {argv[0]!r} ({error.strerror}): install it in the "
                "image or give baseCommand its absolute path"
            ) from None
        if completion.returncode or completion.timed_out:
            raise self.failure(completion)

    def failure(self, completion: Completion) -> Exception:
        """The error an unsuccessful command is: permanent for the spec's permanent exit codes,
        retryable for anything else."""
        code, job = completion.returncode, self.spec.job
        if completion.timed_out:
            cause = f"ran past its time limit of {self.spec.timeout_seconds} s and was killed"
        elif code < 0:
            cause = f"was killed by signal {-code}"
        else:
            kind = "permanent" if code in job.permanent_exit_codes else "retryable"
            listed = code in job.permanent_exit_codes or code in job.retry_exit_codes
            cause = f"exited {code} ({kind}{'' if listed else ': not in the spec'})"
        message = f"{self.name} {cause}; stderr ends: {completion.stderr_tail or '(empty)'}"
        if not completion.timed_out and code in job.permanent_exit_codes:
            return PermanentJobError(message)
        return RetryableJobError(message)

    def vectors(self, work: Path, shape: tuple[int, int], window: int, step: int) -> Vectors:
        """The output file read onto the job's grid; a missing or wrong file is permanent (the
        same input makes the same file)."""
        output = self.spec.output
        path = self.output_file(work, output, "outputBinding.glob")
        try:
            return read_vectors(path, output.format, shape, window, step)
        except (VectorFileError, ValueError, OSError) as error:
            raise self.bad_output(path, output, error) from None

    def output_file(self, work: Path, output: FileOutput, binding: str) -> Path:
        """The one file of `work` the output's glob (`binding`, as the spec names it) matches;
        none or several is permanent (the same input makes the same files)."""
        pattern = output.output_binding.glob
        found = sorted(work.glob(pattern))
        if len(found) != 1:
            present = sorted(p.name for p in work.iterdir())
            raise PermanentJobError(
                f"{self.source}: {self.name} exited 0 but {len(found)} files match "
                f"{binding} {pattern!r} (expected one) in its work folder, which holds {present}"
            )
        return found[0]

    def bad_output(self, path: Path, output: FileOutput, error: Exception) -> PermanentJobError:
        return PermanentJobError(
            f"{self.source}: {self.name}'s output {path.name} ({output.format}): {error}"
        )


def run_command(argv: list[str], work: Path, timeout_seconds: float, name: str) -> Completion:
    """Run `argv` in `work` (no shell, no stdin), each line of its stdout and stderr logged as
    it comes, killed after `timeout_seconds`. It runs in a session of its own, so whatever it
    started goes with it when it ends or is killed: no process outlives its job."""
    with subprocess.Popen(
        argv, cwd=work, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, errors="replace", start_new_session=True,
        env=_program_environment["variables"],
    ) as process:  # fmt: skip
        tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
        readers = [
            follow(process.stdout, name, "stdout", None),
            follow(process.stderr, name, "stderr", tail),
        ]
        try:
            timed_out = wait_or_kill(process, timeout_seconds)
        finally:
            kill_group(process.pid)
        for reader in readers:
            reader.join(PIPE_CLOSE_SECONDS)
    return Completion(process.returncode, timed_out, " | ".join(tail))


def wait_or_kill(process: subprocess.Popen[str], timeout_seconds: float) -> bool:
    """True when the command ran past `timeout_seconds` and was killed."""
    try:
        process.wait(timeout=timeout_seconds)
    except subprocess.TimeoutExpired:
        kill_group(process.pid)
        process.wait()
        return True
    return False


def kill_group(leader: int) -> None:
    """SIGKILL the command's process group (its session), leader and children alike."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(leader, signal.SIGKILL)


def follow(
    stream: IO[str] | None, name: str, label: str, tail: deque[str] | None
) -> threading.Thread:
    """A thread logging each line of `stream` (and keeping the last ones in `tail`)."""
    thread = threading.Thread(target=log_lines, args=(stream or (), name, label, tail), daemon=True)
    thread.start()
    return thread


def log_lines(lines: Iterable[str], name: str, label: str, tail: deque[str] | None) -> None:
    for line in lines:
        text = line.rstrip("\n")
        log.info(text, extra={"algorithm": name, "stream": label})
        if tail is not None:
            tail.append(text)
