"""Wrapped executables: the C example compiled with gcc and run through the runtime on a known
displacement; the time limit, the exit codes and a wrong output grid, each with real commands
(no mocks); `pivfleet run --algorithm` on a spec end to end, equal to the program run by hand;
and through `pivfleet run`, a retry code once then success, and outputs that are missing, NaN
or in the wrong format, each failing only its pair; haloPixels reaching the program's crops."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile
import yaml

from pivfleet.algorithms.executable import ExecutableAlgorithm
from pivfleet.cli.main import main
from pivfleet.core.algorithm_spec import AlgorithmSpec
from pivfleet.core.errors import PermanentJobError, RetryableJobError, is_permanent
from pivfleet.core.spec import PivSettings
from pivfleet.core.tiling import grid_shape, plan_tiles
from tests.blockmatch_by_hand import EXAMPLE, assert_same_vectors, by_hand, compile_blockmatch
from tests.synthetic import make_pair, uniform, write_pair

TRUTH = (3.2, -1.7)
PIV = PivSettings(windows=(32,), overlaps=(16,))


@pytest.fixture(scope="module")
def blockmatch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The C example, compiled here as its Dockerfile compiles it."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    return compile_blockmatch("gcc", tmp_path_factory.mktemp("bin"))


def spec(command: list[str], **job: Any) -> AlgorithmSpec:
    """The example's spec running `command` instead, with `job` in its pivfleet:Job hint."""
    document = yaml.safe_load((EXAMPLE / "algorithm.cwl.yml").read_text())
    document["baseCommand"] = command
    document["hints"]["pivfleet:Job"].update(job)
    return AlgorithmSpec.model_validate(document)


def python(code: str, **job: Any) -> ExecutableAlgorithm:
    return ExecutableAlgorithm(spec([sys.executable, "-c", code], **job), "test.cwl.yml")


def pair() -> tuple[np.ndarray, np.ndarray]:
    frames = make_pair((160, 224), uniform(*TRUTH))
    return frames.frame_a.astype(np.float64), frames.frame_b.astype(np.float64)


def test_the_c_example_measures_a_uniform_displacement(blockmatch: Path) -> None:
    algorithm = ExecutableAlgorithm(spec([str(blockmatch)]), "algorithm.cwl.yml")
    frame_a, frame_b = pair()
    vectors = algorithm.process(frame_a, frame_b, PIV, {"search": 6})
    assert vectors.u.shape == grid_shape(frame_a.shape, 32, 16) == (9, 13)
    assert abs(np.nanmedian(vectors.u) - TRUTH[0]) < 0.5
    assert abs(np.nanmedian(vectors.v) - TRUTH[1]) < 0.5  # v back to image coordinates
    assert (vectors.flags == 0).mean() > 0.9


def test_a_command_past_its_time_limit_is_killed_and_retried() -> None:
    document = spec([sys.executable, "-c", "import time; time.sleep(60)"]).model_dump(
        by_alias=True, exclude_none=True
    )
    document["requirements"]["ToolTimeLimit"] = {"timelimit": 1}
    algorithm = ExecutableAlgorithm(AlgorithmSpec.model_validate(document), "slow.cwl.yml")
    with pytest.raises(RetryableJobError, match="ran past its time limit of 1 s") as error:
        algorithm.process(*pair(), PIV, {})
    assert not is_permanent(error.value)


def test_a_permanent_exit_code_fails_at_once_with_the_end_of_stderr() -> None:
    code = (
        "import sys; print('line 1', file=sys.stderr); "
        "print('bad frame', file=sys.stderr); sys.exit(3)"
    )
    algorithm = python(code, permanentExitCodes=[3], retryExitCodes=[75])
    with pytest.raises(PermanentJobError) as error:
        algorithm.process(*pair(), PIV, {})
    assert "blockmatch exited 3 (permanent)" in str(error.value)
    assert "stderr ends: line 1 | bad frame" in str(error.value)
    assert is_permanent(error.value)


@pytest.mark.parametrize(
    ("exit_code", "kind"), [(75, r"\(retryable\)"), (9, "retryable: not in the spec")]
)
def test_other_exit_codes_are_retried(exit_code: int, kind: str) -> None:
    algorithm = python(f"import sys; sys.exit({exit_code})", permanentExitCodes=[3])
    with pytest.raises(RetryableJobError, match=f"exited {exit_code}.*{kind}") as error:
        algorithm.process(*pair(), PIV, {})
    assert not is_permanent(error.value)


def test_an_output_on_the_wrong_grid_is_refused_naming_both_shapes() -> None:
    code = "import numpy as np; np.savetxt('vectors.txt', np.zeros((6, 4)))"
    with pytest.raises(PermanentJobError) as error:
        python(code).process(*pair(), PIV, {})
    message = str(error.value)
    assert "test.cwl.yml: blockmatch's output vectors.txt (pivfleet:openpiv-text)" in message
    assert "holds (1, 1) vectors (6 lines), expected (9, 13)" in message


def test_an_npz_output_is_read_in_image_coordinates() -> None:
    code = (
        "import numpy as np; u = np.full((9, 13), 2.0); v = np.full((9, 13), -1.0); "
        "u[0, 0] = np.nan; np.savez('vectors.npz', u=u, v=v)"
    )
    document = spec([sys.executable, "-c", code]).model_dump(by_alias=True, exclude_none=True)
    document["outputs"]["vectors"] = {
        "type": "File", "format": "pivfleet:npz", "outputBinding": {"glob": "*.npz"}
    }  # fmt: skip
    algorithm = ExecutableAlgorithm(AlgorithmSpec.model_validate(document), "npz.cwl.yml")
    vectors = algorithm.process(*pair(), PIV, {})
    assert np.nanmax(vectors.u) == 2.0 and np.nanmin(vectors.v) == -1.0
    assert vectors.flags[0, 0] == 2 and (vectors.flags == 2).sum() == 1


def test_a_missing_command_is_permanent() -> None:
    algorithm = ExecutableAlgorithm(spec(["/nonexistent/blockmatch"]), "gone.cwl.yml")
    with pytest.raises(PermanentJobError, match="cannot run '/nonexistent/blockmatch'"):
        algorithm.process(*pair(), PIV, {})


RUN_CASES = [("none", "halo", False), ("96", "halo", True), ("96", "whole", False)]
"""--tiling, the spec's `tiles`, and whether the pair is cut."""


@pytest.mark.parametrize("case", RUN_CASES)
def test_pivfleet_run_runs_a_spec_end_to_end(
    blockmatch: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: tuple[str, str, bool]
) -> None:
    """Halo tiles when the spec allows them and the run asks; a `tiles: whole` program gets
    whole pairs whatever `--tiling` says."""
    tiling, tiles, cut = case
    specs, frames, out = tmp_path / "specs", tmp_path / "in", tmp_path / "out"
    specs.mkdir()
    job = {"tiles": tiles} | ({} if tiles == "halo" else {"haloPixels": None})
    document = spec([str(blockmatch)], **job).model_dump(by_alias=True, exclude_none=True)
    document["id"] = f"blockmatch-run-{tiling}-{tiles}"  # one name per spec file here
    (specs / "blockmatch.cwl.json").write_text(json.dumps(document))
    write_pair(frames, "uniform", make_pair((192, 256), uniform(*TRUTH)))
    monkeypatch.setenv("PIVFLEET_ALGORITHM_SPECS", str(specs))
    code = main([
        "run", str(frames), "--out", str(out), "--algorithm", document["id"], "--windows", "32",
        "--overlap", "16", "--tiling", tiling, "--workers", "1", "--no-dataset",
    ])  # fmt: skip
    summary = json.loads((out / "summary.json").read_text())
    assert code == 0 and summary["status"] == "done", summary
    assert (summary["tiles"] > 1) == cut  # halo tiles, cores stitched
    u, v = np.loadtxt(out / "uniform.txt")[:, 2:4].T
    assert len(u) == np.prod(grid_shape((192, 256), 32, 16))
    assert abs(np.nanmedian(u) - TRUTH[0]) < 0.5 and abs(np.nanmedian(v) + TRUTH[1]) < 0.5
    written = tuple(tifffile.imread(frames / f"uniform_{side}.tif") for side in "ab")
    expected = by_hand(blockmatch, written, tmp_path / "by-hand")  # stitched tiles or not
    assert_same_vectors(np.loadtxt(out / "uniform.txt"), expected)


PROGRAM = """
import sys
from pathlib import Path

import numpy as np

args = sys.argv[1:]
window, step = (int(args[args.index(flag) + 1]) for flag in ("--window", "--step"))
_, width, height, _ = open(args[2], "rb").read().split(maxsplit=3)
width, height = int(width), int(height)
rows, cols = (height - window) // step + 1, (width - window) // step + 1
with open(LOG, "a") as log:
    log.write(f"{height} {width}\\n")
fault = FAULTS.get(width, "none")
if fault == "retry-once" and not Path(LOG + ".retried").exists():
    Path(LOG + ".retried").touch()
    print("device busy", file=sys.stderr)
    sys.exit(75)
if fault == "no-output":
    sys.exit(0)
if fault == "wrong-format":
    with open("vectors.txt", "wb") as archive:  # an .npz where the spec says text
        np.savez(archive, u=np.zeros((rows, cols)), v=np.zeros((rows, cols)))
    sys.exit(0)
i, j = np.mgrid[0:rows, 0:cols]
x, y = j * step + window / 2, (rows - 1 - i) * step + window / 2
u, v = np.full((rows, cols), 1.5), np.full((rows, cols), -0.5)
if fault == "nan":
    u[1, 2] = np.nan
columns = [x.ravel(), y.ravel(), u.ravel(), v.ravel(), np.zeros(rows * cols)]
np.savetxt("vectors.txt", np.column_stack(columns))
"""
"""A program standing in for a user's: right vectors on the crop it is given (u 1.5, v −0.5),
or, for frames `width` px wide, the fault `FAULTS[width]`; each call's crop logged to LOG."""
GOOD_SHAPE, BAD_SHAPE = (160, 224), (192, 256)


def faulty_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fault: str, *flags: str) -> Path:
    """`pivfleet run --algorithm faulty-<fault>` (one id per spec file in this process) on a
    good pair and one whose program has `fault`."""
    program, log = tmp_path / "program.py", tmp_path / "calls.log"
    faults = {BAD_SHAPE[1]: fault}
    program.write_text(f"LOG = {str(log)!r}\nFAULTS = {faults!r}\n{PROGRAM}")
    document = spec([sys.executable, str(program)]).model_dump(by_alias=True, exclude_none=True)
    document["id"] = name = f"faulty-{fault}"
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "faulty.cwl.json").write_text(json.dumps(document))
    write_pair(tmp_path / "in", "good", make_pair(GOOD_SHAPE, uniform(*TRUTH)))
    write_pair(tmp_path / "in", "bad", make_pair(BAD_SHAPE, uniform(*TRUTH)))
    monkeypatch.setenv("PIVFLEET_ALGORITHM_SPECS", str(tmp_path / "specs"))
    main([
        "run", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--algorithm", name,
        "--windows", "32", "--overlap", "16", "--workers", "1", "--no-dataset", *flags,
    ])  # fmt: skip
    return tmp_path


def pairs_of(folder: Path) -> dict[str, dict[str, Any]]:
    summary = json.loads((folder / "out" / "summary.json").read_text())
    return {pair["pair"]: pair for pair in summary["pairs"]}


def calls(folder: Path) -> list[tuple[int, int]]:
    lines = (folder / "calls.log").read_text().split("\n")
    return [(int(h), int(w)) for h, w in (line.split() for line in lines if line)]


def test_a_retry_exit_code_once_then_success_finishes_the_pair(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = faulty_run(tmp_path, monkeypatch, "retry-once", "--tiling", "none")
    pairs = pairs_of(folder)
    assert pairs["bad"]["status"] == pairs["good"]["status"] == "done", pairs
    assert sorted(calls(folder)) == [GOOD_SHAPE, BAD_SHAPE, BAD_SHAPE]  # the job received twice
    u, v = np.loadtxt(folder / "out" / "bad.txt")[:, 2:4].T
    assert np.all(u == 1.5) and np.all(v == -0.5)


FAULTS = [
    ("no-output", "0 files match outputBinding.glob 'vectors.txt' (expected one)"),
    ("nan", "holds 1 NaN displacements flagged 0 (valid), the first at grid row 1, column 2"),
    ("wrong-format", "is not OpenPIV's text columns (x y u v [flags [mask]], numbers)"),
]


@pytest.mark.parametrize(("fault", "problem"), FAULTS)
def test_a_bad_output_fails_its_pair_at_once_naming_the_algorithm_and_the_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fault: str, problem: str
) -> None:
    folder = faulty_run(tmp_path, monkeypatch, fault, "--tiling", "none")
    pairs = pairs_of(folder)
    assert pairs["good"]["status"] == "done" and (folder / "out" / "good.txt").exists()
    assert pairs["bad"]["status"] == "failed", pairs
    [error] = pairs["bad"]["errors"]
    assert f"faulty.cwl.json: faulty-{fault}" in error and problem in error, error
    assert calls(folder).count(BAD_SHAPE) == 1  # permanent: no retry budget spent


def test_halo_pixels_widen_the_crops_the_program_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`tiles: halo` with haloPixels above pivfleet's own halo: each crop reaches that far."""
    folder = tmp_path / "narrow"
    folder.mkdir()
    faulty_run(folder, monkeypatch, "halo", "--tiling", "64")
    document = json.loads((folder / "specs" / "faulty.cwl.json").read_text())
    document["id"] = "faulty-wide-halo"
    document["hints"]["pivfleet:Job"] = {"tiles": "halo", "haloPixels": 200}
    wide = tmp_path / "wide"
    (wide / "specs").mkdir(parents=True)
    (wide / "specs" / "faulty.cwl.json").write_text(json.dumps(document))
    monkeypatch.setenv("PIVFLEET_ALGORITHM_SPECS", str(wide / "specs"))
    log = folder / "calls.log"
    log.write_text("")
    main([
        "run", str(folder / "in"), "--out", str(wide / "out"), "--algorithm", "faulty-wide-halo",
        "--windows", "32", "--overlap", "16", "--tiling", "64", "--workers", "1", "--no-dataset",
    ])  # fmt: skip
    expected = [t.crop.shape for s in (GOOD_SHAPE, BAD_SHAPE) for t in plan_tiles(s, PIV, 64, 200)]
    narrow = [t.crop.shape for s in (GOOD_SHAPE, BAD_SHAPE) for t in plan_tiles(s, PIV, 64)]
    assert sorted(calls(folder)) == sorted(expected) != sorted(narrow)
    assert all(pair["status"] == "done" for pair in pairs_of(wide).values())


LINGERING = """
import subprocess, sys, time
child = subprocess.Popen(
    [sys.executable, "-c", "import time; time.sleep(120)"],
    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
)
open(PIDS, "w").write(str(child.pid))
{end}
"""
"""A command that starts a child of its own (a shell script's program, a MATLAB runtime's
helper), then hangs or exits leaving it behind."""


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie, killed and waiting for its parent, is not running)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.mark.parametrize(
    ("end", "raised"),
    [("time.sleep(120)", RetryableJobError), ("sys.exit(3)", PermanentJobError)],
)
def test_the_commands_whole_process_tree_ends_with_its_job(
    tmp_path: Path, end: str, raised: type[Exception]
) -> None:
    """Killed at its time limit, or exiting on its own: nothing it started outlives the job."""
    pids = tmp_path / "pids"
    code = f"PIDS = {str(pids)!r}\n" + LINGERING.format(end=end)
    document = spec([sys.executable, "-c", code]).model_dump(by_alias=True, exclude_none=True)
    document["requirements"]["ToolTimeLimit"] = {"timelimit": 2}
    document["hints"]["pivfleet:Job"]["permanentExitCodes"] = [3]
    algorithm = ExecutableAlgorithm(AlgorithmSpec.model_validate(document), "tree.cwl.yml")
    with pytest.raises(raised):
        algorithm.process(*pair(), PIV, {})
    child = int(pids.read_text())
    deadline = time.monotonic() + 5
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    if alive(child):
        os.kill(child, signal.SIGKILL)
        pytest.fail("the command's child outlived its job")


def test_the_command_sees_no_credentials_nor_pivfleets_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`pivfleet run` runs wrapped commands with its environment less AWS_* and PIVFLEET_*;
    the lab's own variables pass through."""
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "do-not-leak")
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/x")
    monkeypatch.setenv("LAB_LICENCE_SERVER", "27000@licence")
    shown = "import os, sys; print(' '.join(sorted(os.environ)), file=sys.stderr); sys.exit(3)"
    document = spec([sys.executable, "-c", shown]).model_dump(by_alias=True, exclude_none=True)
    document.update(id="environment")
    document["hints"]["pivfleet:Job"]["permanentExitCodes"] = [3]
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "environment.cwl.json").write_text(json.dumps(document))
    write_pair(tmp_path / "in", "pair", make_pair(GOOD_SHAPE, uniform(*TRUTH)))
    monkeypatch.setenv("PIVFLEET_ALGORITHM_SPECS", str(tmp_path / "specs"))
    main([
        "run", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--algorithm", "environment",
        "--windows", "32", "--overlap", "16", "--workers", "1", "--no-dataset",
    ])  # fmt: skip
    [error] = pairs_of(tmp_path)["pair"]["errors"]
    variables = error.rsplit("stderr ends: ", 1)[1].split()
    assert "LAB_LICENCE_SERVER" in variables and "PATH" in variables, error
    assert not [name for name in variables if name.startswith(("AWS_", "PIVFLEET_"))], error
