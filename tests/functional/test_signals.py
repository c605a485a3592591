"""Ctrl-C and SIGTERM mid-run: the right exit status, finished pairs kept and listed, no
scratch folder and no process left behind. `--workers` out of range is refused."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pivfleet.cli.main import main
from pivfleet.core.machine import available_cores

PAIRS = 6


@pytest.fixture
def frames(sample_input: Path, tmp_path: Path) -> Path:
    """Enough test4 pairs (2304×1720) that a run is still busy when the signal comes."""
    folder = tmp_path / "in"
    folder.mkdir()
    for index in range(PAIRS):
        for letter in "ab":
            shutil.copy(sample_input / f"test4_{letter}.tif", folder / f"p{index}_{letter}.tif")
    return folder


def start(frames: Path, out: Path) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "pivfleet.cli", "run", str(frames), "--out", str(out)]
    return subprocess.Popen(
        [*command, "--workers", "2", "--tiling", "none"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's job is
    )


def wait_for_first_pair(out: Path, process: subprocess.Popen[str]) -> None:
    """Until one pair's last output is written, and a moment for its status to follow."""
    deadline = time.monotonic() + 120
    while not list(out.glob("p*.nc")):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no pair finished in 120 s"
        time.sleep(0.1)
    time.sleep(1.0)


def group_is_gone(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.slow
@pytest.mark.parametrize(
    ("number", "to_group", "status"),
    [(signal.SIGINT, True, 130), (signal.SIGTERM, False, 143)],
    ids=["ctrl-c-to-the-group", "sigterm-to-the-process"],
)
def test_a_signal_stops_the_run_cleanly(
    frames: Path, tmp_path: Path, number: int, to_group: bool, status: int
) -> None:
    out = tmp_path / "out"
    before = {p.name: p.read_bytes() for p in frames.iterdir()}
    process = start(frames, out)
    wait_for_first_pair(out, process)
    (os.killpg if to_group else os.kill)(process.pid, number)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == status, stderr
    assert "Traceback" not in stderr, stderr
    written = sorted(p.stem for p in out.glob("p*.txt"))
    assert written == sorted(p.stem for p in out.glob("p*.nc")), "a pair left half-written"
    assert written and f"interrupted: {len(written)} of {PAIRS} pairs finished" in stderr, stderr
    assert all(name in stderr for name in written)
    assert not list(out.glob(".pivfleet-*")), "the scratch folder was left behind"
    deadline = time.monotonic() + 10
    while not group_is_gone(process.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert group_is_gone(process.pid), "pool processes outlived the run"
    assert {p.name: p.read_bytes() for p in frames.iterdir()} == before


@pytest.mark.parametrize("workers", [0, -1, 4 * available_cores() + 1])
def test_workers_out_of_range_are_refused_naming_the_limit(
    frames: Path, tmp_path: Path, workers: int, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["run", str(frames), "--out", str(tmp_path / "out"), "--workers", str(workers)])
    assert code == 2
    error = capsys.readouterr().err
    assert f"--workers {workers}: use 1 to {4 * available_cores()}" in error
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
