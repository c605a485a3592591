"""`pivfleet wrap --check SPEC`: the C example, compiled here with the system compiler and found
on PATH as in its image, runs once on OpenPIV's sample pair through the wrapped-executable
runtime and agrees with OpenPIV; a failing command's error and each kind of bad spec are
refused with the field and the fix."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from openpiv import pyprocess

from pivfleet.cli.main import main
from pivfleet.cli.samples import sample_frames
from pivfleet.core.imaging import read_frame
from pivfleet.core.tiling import grid_shape

EXAMPLE = Path(__file__).parents[2] / "examples" / "c_algorithm" / "algorithm.cwl.yml"
DISPLACEMENT_TOLERANCE_PIXELS = 0.3
Change = Callable[[dict[str, Any]], object]


@pytest.fixture
def blockmatch_on_path(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """The C example compiled as its Dockerfile compiles it, first on PATH (as in its image)."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler")
    folder = tmp_path_factory.mktemp("bin")
    source = EXAMPLE.parent / "blockmatch.c"
    subprocess.run(
        [compiler, "-O2", "-o", str(folder / "blockmatch"), str(source), "-lm"], check=True
    )
    monkeypatch.setenv("PATH", f"{folder}:{os.environ.get('PATH', '')}")
    return folder


def wrap_check(spec: Path, *extra: str) -> int:
    return main(["wrap", "--check", str(spec), *extra])


def changed(tmp_path: Path, change: Change) -> Path:
    document = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    change(document)
    path = tmp_path / "changed.cwl.yml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def openpiv_medians() -> tuple[float, float]:
    frame_a, frame_b = (read_frame(str(p)) for p in sample_frames("test1"))
    u, v, _ = pyprocess.extended_search_area_piv(
        frame_a, frame_b, window_size=32, overlap=16, search_area_size=48
    )
    return float(np.nanmedian(u)), float(np.nanmedian(v))


def test_the_c_example_runs_once_on_the_sample_pair_and_agrees_with_openpiv(
    blockmatch_on_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert wrap_check(EXAMPLE) == 0
    report = capsys.readouterr().out
    frame = read_frame(str(sample_frames("test1")[0]))
    rows, cols = grid_shape(frame.shape, 16, 8)
    assert f"grid {rows} × {cols} (window 16, step 8 px)" in report
    found = re.search(r"median u (\S+), v (\S+) px", report)
    assert found, report
    median_u, median_v = openpiv_medians()
    assert abs(float(found.group(1)) - median_u) < DISPLACEMENT_TOLERANCE_PIXELS
    assert abs(float(found.group(2)) - median_v) < DISPLACEMENT_TOLERANCE_PIXELS
    valid = re.search(r"(\d+) of (\d+) vectors valid", report)
    assert valid and int(valid.group(2)) == rows * cols
    assert int(valid.group(1)) > 0.9 * rows * cols


def test_a_parameter_reaches_the_command_and_an_unknown_one_is_refused(
    blockmatch_on_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert wrap_check(EXAMPLE, "--param", "search=2") == 0
    report = capsys.readouterr().out
    found = re.search(r"median u (\S+), v (\S+) px", report)
    assert found and abs(float(found.group(2))) <= 2, "a 2-pixel search cannot find 5 pixels"
    assert wrap_check(EXAMPLE, "--param", "radius=3") == 2
    assert "unknown ['radius']" in capsys.readouterr().err


def test_a_command_that_is_not_installed_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = changed(tmp_path, lambda d: d.update(baseCommand=[str(tmp_path / "nowhere")]))
    assert wrap_check(missing) == 2
    error = capsys.readouterr().err
    assert "failed on the sample pair" in error and "cannot run" in error


def test_a_failing_command_exits_non_zero_with_the_runtimes_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = "import sys; sys.stderr.write('cannot read frame_a.pgm\\n'); sys.exit(65)"
    failing = changed(tmp_path, lambda d: d.update(baseCommand=[sys.executable, "-c", code]))
    assert wrap_check(failing) == 2
    error = capsys.readouterr().err
    assert "blockmatch exited 65 (permanent)" in error and "cannot read frame_a.pgm" in error


BAD_SPECS: dict[str, tuple[Change, list[str]]] = {
    "unknown field": (
        lambda d: d.update(stdout="log.txt"),
        ["stdout: unknown key", "remove it"],
    ),
    "missing baseCommand": (
        lambda d: d.pop("baseCommand"),
        ["baseCommand: missing", "add `baseCommand: [PROGRAM]`"],
    ),
    "a parameter with no type": (
        lambda d: d["inputs"]["search"].pop("type"),
        ["inputs.search: no `type`", "int, float, string or boolean"],
    ),
    "an output with no glob": (
        lambda d: d["outputs"]["vectors"]["outputBinding"].pop("glob"),
        ["outputs.vectors.outputBinding.glob: missing", "`glob: vectors.txt`"],
    ),
    "a template referencing an undeclared input": (
        lambda d: d.update(arguments=["--out", "$(inputs.out_file)"]),
        ["arguments[1]", "references input 'out_file', which is not declared", "declare it"],
    ),
}


@pytest.mark.parametrize("case", BAD_SPECS, ids=str)
def test_a_bad_spec_is_refused_naming_the_field_and_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    change, named = BAD_SPECS[case]
    bad = changed(tmp_path, change)
    for command in (
        ["wrap", "--check", str(bad)],
        ["wrap", str(bad), "--out", str(tmp_path / "c")],
    ):
        assert main(command) == 2
        error = capsys.readouterr().err
        assert error.startswith(f"pivfleet: error: {bad}: "), error
        for words in named:
            assert words in error, error
    assert not (tmp_path / "c").exists(), "nothing is written for a bad spec"


def test_an_image_step_runs_once_and_reports_its_frames(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The two-step example's background subtraction (its script run by this Python, as its
    image runs it with its own): both frames back, the sample's shape, normalised levels."""
    two_step = EXAMPLE.parents[1] / "two_step"
    document = yaml.safe_load((two_step / "background.cwl.yml").read_text(encoding="utf-8"))
    document["baseCommand"] = [sys.executable, str(two_step / "subtract_background.py")]
    spec = tmp_path / "background.cwl.yml"
    spec.write_text(yaml.safe_dump(document), encoding="utf-8")
    assert wrap_check(spec, "--param", "radius=5") == 0
    report = capsys.readouterr().out
    rows, cols = read_frame(str(sample_frames("test1")[0])).shape
    for name in ("frame_a", "frame_b"):
        found = re.search(rf"{name}: (\d+) × (\d+) px, grey levels (\S+) to (\S+) ", report)
        assert found, report
        assert (int(found.group(1)), int(found.group(2))) == (rows, cols)
        assert 0 <= float(found.group(3)) < float(found.group(4)) <= 1.1, "normalised levels"
