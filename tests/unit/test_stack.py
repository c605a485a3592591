"""`make stack` on a port it cannot have: one line naming the port and PIVFLEET_STACK_PORT,
a non-zero exit, no traceback, and no LocalStack started."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run_stack(port: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    # An interpreter that does not exist: the port check must come before any LocalStack.
    env = {
        **os.environ,
        "PIVFLEET_STACK_PORT": port,
        "PIVFLEET_LOCALSTACK_PYTHON": str(tmp_path / "no-python"),
        "PYTHONPATH": str(REPO),
    }
    return subprocess.run(
        [sys.executable, "-m", "scripts.stack"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_a_busy_port_is_named_with_the_variable_that_moves_the_stack(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_stack(str(port), tmp_path)
    assert result.returncode != 0
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert f"port {port} on 127.0.0.1 is not free" in lines[0]
    assert f"PIVFLEET_STACK_PORT={port + 1} make stack" in lines[0]


@pytest.mark.parametrize("port", ["abc", "70000"])
def test_a_bad_port_value_is_one_line(port: str, tmp_path: Path) -> None:
    result = run_stack(port, tmp_path)
    assert result.returncode != 0
    assert result.stderr.splitlines() == [
        f"make stack: PIVFLEET_STACK_PORT={port!r} is not a port: give a number such as 4567"
    ]
