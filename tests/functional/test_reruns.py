"""Re-running into a used `--out`: refused without `--replace`, fully replaced with it, never a
mix of two runs or a stale summary."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pivfleet.cli.main import main

SMALL = ["--windows", "32,16", "--overlap", "16,8", "--tiling", "none", "--workers", "2"]


@pytest.fixture
def frames(sample_input: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    for pair in ("one", "two"):
        for letter in "ab":
            shutil.copy(sample_input / f"test1_{letter}.bmp", folder / f"{pair}_{letter}.bmp")
    return folder


def run(frames: Path, out: Path, *extra: str) -> int:
    return main(["run", str(frames), "--out", str(out), *SMALL, *extra])


def summary(out: Path) -> dict:
    return json.loads((out / "summary.json").read_text())


def snapshot(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.is_file()}


def test_a_used_out_is_refused_untouched_naming_the_fix(
    frames: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "out"
    assert run(frames, out) == 0
    before = snapshot(out)
    assert run(frames, out, "--median-threshold", "2") == 2
    error = capsys.readouterr().err
    assert f"--out {out} holds an earlier run's results" in error and "--replace" in error
    assert snapshot(out) == before


def test_replace_gives_the_new_settings_outputs_and_a_new_summary(
    frames: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    assert run(frames, out) == 0
    first = summary(out)
    old_text = (out / "one.txt").read_bytes()
    assert run(frames, out, "--replace", "--windows", "64,32", "--overlap", "32,16") == 0
    second = summary(out)
    assert second["generation"] != first["generation"]
    assert second["spec"]["piv"]["windows"] == [64, 32] and second["pivfleet_version"]
    assert (out / "one.txt").read_bytes() != old_text  # a coarser grid, not the old file


def test_a_fixed_frame_gives_a_done_summary(frames: Path, tmp_path: Path) -> None:
    out, good = tmp_path / "out", (frames / "two_a.bmp").read_bytes()
    (frames / "two_a.bmp").write_bytes(b"not an image")
    assert run(frames, out) == 1
    assert summary(out)["status"] == "partial" and not (out / "two.txt").exists()
    (frames / "two_a.bmp").write_bytes(good)
    assert run(frames, out, "--replace") == 0
    assert summary(out)["status"] == "done" and (out / "two.txt").is_file()


def test_an_all_failing_rerun_exits_non_zero_and_leaves_no_old_outputs(
    frames: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    assert run(frames, out) == 0
    for frame in frames.iterdir():
        frame.write_bytes(b"broken")
    assert run(frames, out, "--replace") == 1
    assert summary(out)["status"] == "failed"
    assert sorted(p.name for p in out.iterdir()) == ["summary.json"]


def test_files_that_are_not_ours_stay(frames: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("my notes")
    assert run(frames, out) == 0
    assert run(frames, out, "--replace") == 0
    assert (out / "notes.txt").read_text() == "my notes"
