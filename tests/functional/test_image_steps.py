"""Image steps (`run.json`'s `steps`) in `pivfleet run`: the example's background subtraction
(examples/two_step, a script wrapped by its spec) before windef, compared with running the
script by hand; steps chained; a step that fails, or makes frames of another size or with
NaN, fails only its pair, naming the algorithm; a vector algorithm as a step, or an image
step as the algorithm, refused before anything runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile
import yaml

from pivfleet.cli.main import main
from pivfleet.core.tiling import grid_shape
from tests.synthetic import SyntheticPair, make_pair, uniform, write_pair

EXAMPLE = Path(__file__).parents[2] / "examples" / "two_step"
SCRIPT = EXAMPLE / "subtract_background.py"
TRUTH = (3.2, -1.7)
SHAPE = (192, 256)
PIV_FLAGS = ["--windows", "64,32", "--overlap", "32,16", "--engine", "fast"]


def with_background(pair: SyntheticPair) -> SyntheticPair:
    """The pair under uneven light: a glare ramp across both frames, as real recordings have."""
    rows, cols = np.mgrid[0 : SHAPE[0], 0 : SHAPE[1]]
    glare = 60.0 * cols / SHAPE[1] + 40.0 * np.exp(-(((rows - 90) / 40.0) ** 2))
    lit = [
        np.clip(f.astype(np.float64) + glare, 0, 255).astype(np.uint8)
        for f in (pair.frame_a, pair.frame_b)
    ]
    return SyntheticPair(lit[0], lit[1], pair.flow)


def write_spec(folder: Path, name: str, command: list[str], **changes: Any) -> None:
    """The example's spec as `name`, running `command` (the script on this host)."""
    document = yaml.safe_load((EXAMPLE / "background.cwl.yml").read_text())
    document.update(id=name, baseCommand=command, **changes)
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.cwl.yml").write_text(yaml.safe_dump(document))


def run(frames: Path, out: Path, *flags: str) -> tuple[int, dict[str, Any]]:
    code = main(["run", str(frames), "--out", str(out), "--workers", "1", *PIV_FLAGS, *flags])
    summary = out / "summary.json"
    return code, json.loads(summary.read_text()) if summary.exists() else {}


@pytest.fixture
def specs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "specs"
    write_spec(folder, "background", [sys.executable, str(SCRIPT)])
    monkeypatch.setenv("PIVFLEET_ALGORITHM_SPECS", str(folder))
    return folder


def by_hand(frames: Path, pair: str, folder: Path, radius: int = 7) -> None:
    """The example's script run as a user would, its outputs saved as float32 TIFF frames."""
    folder.mkdir()
    for side in "ab":
        image = tifffile.imread(frames / f"{pair}_{side}.tif").astype(np.float64)
        np.save(folder / f"{side}_in.npy", image)
    arguments = [str(folder / "a_in.npy"), str(folder / "b_in.npy"), "--radius", str(radius)]
    subprocess.run([sys.executable, str(SCRIPT), *arguments], cwd=folder, check=True)
    for side in "ab":
        tifffile.imwrite(folder / f"{pair}_{side}.tif", np.load(folder / f"{side}.npy"))


@pytest.mark.parametrize("tiling", ["none", "96"])
def test_a_background_step_before_windef_measures_what_the_script_by_hand_gives(
    specs: Path, tmp_path: Path, tiling: str
) -> None:
    """Whole pairs, and pass-synchronous tiles reading their crops of the step's frames."""
    frames = tmp_path / "in"
    write_pair(frames, "lit", with_background(make_pair(SHAPE, uniform(*TRUTH))))
    code, summary = run(
        frames, tmp_path / "out", "--step", "background:radius=7", "--tiling", tiling
    )
    assert code == 0 and summary["status"] == "done", summary
    assert summary["spec"]["steps"] == [{"algorithm": "background", "parameters": {"radius": 7}}]
    by_hand(frames, "lit", tmp_path / "by-hand")
    code, plain = run(tmp_path / "by-hand", tmp_path / "plain", "--tiling", tiling)
    assert code == 0 and plain["status"] == "done", plain
    stepped = np.loadtxt(tmp_path / "out" / "lit.txt")
    expected = np.loadtxt(tmp_path / "plain" / "lit.txt")
    assert stepped.shape == (np.prod(grid_shape(SHAPE, 32, 16)), 6)
    np.testing.assert_allclose(stepped, expected, rtol=0, atol=1e-4)  # the .txt's %.4e
    u, v = stepped[:, 2:4].T
    assert abs(np.median(u) - TRUTH[0]) < 0.05 and abs(np.median(v) + TRUTH[1]) < 0.05


def test_steps_chain_each_reading_what_the_one_before_wrote(specs: Path, tmp_path: Path) -> None:
    """Two steps: the second sees the first's frames (background gone, contrast ≤ 1)."""
    check = (
        "import sys, numpy as np; a, b = (np.load(p) for p in sys.argv[1:3]); "
        "sys.exit(65) if max(a.max(), b.max()) > 1.5 else None; "
        "np.save('a.npy', a * 100); np.save('b.npy', b * 100)"
    )
    write_spec(specs, "scaled", [sys.executable, "-c", check], inputs=step_inputs())
    frames = tmp_path / "in"
    write_pair(frames, "lit", with_background(make_pair(SHAPE, uniform(*TRUTH))))
    code, summary = run(frames, tmp_path / "out", "--step", "background", "--step", "scaled")
    assert code == 0 and summary["status"] == "done", summary
    u = np.loadtxt(tmp_path / "out" / "lit.txt")[:, 2]
    assert abs(np.median(u) - TRUTH[0]) < 0.05


def step_inputs() -> dict[str, Any]:
    """The example's frame inputs without its radius."""
    document = yaml.safe_load((EXAMPLE / "background.cwl.yml").read_text())
    return {k: v for k, v in document["inputs"].items() if k.startswith("frame_")}


FAULTS = {
    "exits-64": ("import sys; print('no particles here', file=sys.stderr); sys.exit(64)",
                 "exited 64 (permanent); stderr ends: no particles here"),
    "smaller": ("import sys, numpy as np; a = np.load(sys.argv[1])[:-8]; "
                "np.save('a.npy', a); np.save('b.npy', a)",
                "made frame A of (184, 200), not the pair's (192, 200)"),
    "nan": ("import sys, numpy as np; a = np.load(sys.argv[1]); a[5, 5] = np.nan; "
            "np.save('a.npy', a); np.save('b.npy', a)", "NaN or infinite values"),
    "no-output": ("pass", "0 files match frame_a's outputBinding.glob 'a.npy'"),
    "not-npy": ("open('a.npy', 'w').write('hello'); open('b.npy', 'w').write('hello')",
                "a.npy (pivfleet:npy)"),
}  # fmt: skip


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_failing_step_fails_only_its_pair_naming_the_algorithm(
    specs: Path, tmp_path: Path, fault: str
) -> None:
    """The step fails on pair `bad` only (its frames are 200 px wide); pair `good` is done."""
    code_text, reason = FAULTS[fault]
    guard = "import sys, numpy as np\nif np.load(sys.argv[1]).shape[1] != 200: "
    passthrough = "np.save('a.npy', np.load(sys.argv[1])); np.save('b.npy', np.load(sys.argv[2]))"
    script = f"{guard}{passthrough}\nelse:\n    exec({code_text!r})"
    write_spec(specs, fault, [sys.executable, "-c", script], inputs=step_inputs())
    frames = tmp_path / "in"
    write_pair(frames, "good", make_pair(SHAPE, uniform(*TRUTH)))
    write_pair(frames, "bad", make_pair((SHAPE[0], 200), uniform(*TRUTH)))
    code, summary = run(frames, tmp_path / "out", "--step", fault)
    pairs = {p["pair"]: p for p in summary["pairs"]}
    assert code != 0 and summary["status"] == "partial", summary
    assert pairs["good"]["status"] == "done" and (tmp_path / "out" / "good.txt").exists()
    assert pairs["bad"]["status"] == "failed" and not (tmp_path / "out" / "bad.txt").exists()
    [error] = pairs["bad"]["errors"]
    assert error.startswith(f"image step 1 ({fault}): failed on bad_a.tif: "), error
    assert reason in error, error


def test_an_algorithm_in_the_wrong_place_is_refused_before_running(
    specs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frames = tmp_path / "in"
    write_pair(frames, "lit", make_pair(SHAPE, uniform(*TRUTH)))
    assert run(frames, tmp_path / "out", "--step", "windef")[0] != 0
    assert "'windef' makes vectors, not images" in capsys.readouterr().err
    assert run(frames, tmp_path / "out", "--algorithm", "background")[0] != 0
    assert "algorithm 'background' is an image step: list it under steps" in capsys.readouterr().err
    assert run(frames, tmp_path / "out", "--step", "background:radius=big")[0] != 0
    assert "steps[0].parameters (--step): input 'radius' is int" in capsys.readouterr().err
    assert not (tmp_path / "out" / "summary.json").exists()
