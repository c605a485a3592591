"""Wrapped executables: the C example compiled with gcc and run through the runtime on a known
displacement; the time limit, the exit codes and a wrong output grid, each with real commands
(no mocks); and `pivfleet run --algorithm` on a spec end to end."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from pivfleet.algorithms.executable import ExecutableAlgorithm
from pivfleet.cli.main import main
from pivfleet.core.algorithm_spec import AlgorithmSpec
from pivfleet.core.errors import PermanentJobError, RetryableJobError, is_permanent
from pivfleet.core.spec import PivSettings
from pivfleet.core.tiling import grid_shape
from tests.synthetic import make_pair, uniform, write_pair

EXAMPLE = Path(__file__).parents[2] / "examples" / "c_algorithm"
TRUTH = (3.2, -1.7)
PIV = PivSettings(windows=(32,), overlaps=(16,))


@pytest.fixture(scope="module")
def blockmatch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The C example, compiled here as its Dockerfile compiles it."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    binary = tmp_path_factory.mktemp("bin") / "blockmatch"
    source = EXAMPLE / "blockmatch.c"
    subprocess.run(["gcc", "-O2", "-Wall", "-o", str(binary), str(source), "-lm"], check=True)
    return binary


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
