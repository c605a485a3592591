"""`pivfleet run` end to end on small inputs: outputs, summary, and every kind of bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import tifffile

from pivfleet.cli.main import main


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["run", *args, "--workers", "2"])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def summary(out: Path) -> dict:
    return json.loads((out / "summary.json").read_text())


def test_run_writes_every_output_and_a_summary(one_pair: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    code, _ = run([str(one_pair), "--out", str(out), "--tiling", "128", "--plot"], capsys)
    assert code == 0
    assert {p.name for p in out.iterdir()} == {
        "good.txt", "good.nc", "good.png", "run.nc", "run.png", "summary.json"
    }  # fmt: skip
    report = summary(out)
    assert report["status"] == "done" and report["pairs_done"] == 1 and report["tiles"] > 1
    assert np.loadtxt(out / "good.txt").shape[1] == 6


def test_a_bad_pair_fails_alone_and_the_exit_status_says_so(
    one_pair: Path, tmp_path: Path, capsys
) -> None:
    (one_pair / "broken_a.bmp").write_bytes(b"not an image at all")
    shutil.copy(one_pair / "good_b.bmp", one_pair / "broken_b.bmp")
    tifffile.imwrite(one_pair / "sizes_a.tif", np.zeros((200, 300), np.uint16))
    tifffile.imwrite(one_pair / "sizes_b.tif", np.zeros((200, 301), np.uint16))
    tifffile.imwrite(one_pair / "tiny_a.tif", np.zeros((40, 40), np.uint8))
    tifffile.imwrite(one_pair / "tiny_b.tif", np.zeros((40, 40), np.uint8))
    out = tmp_path / "out"
    code, text = run([str(one_pair), "--out", str(out), "--tiling", "none"], capsys)
    assert code == 1
    report = summary(out)
    states = {p["pair"]: p for p in report["pairs"]}
    assert states["good"]["status"] == "done"
    assert "broken_a.bmp: cannot be read as an image" in states["broken"]["errors"][0]
    assert "same size" in states["sizes"]["errors"][0]
    assert "needs frames of at least 160×160 px" in states["tiny"]["errors"][0]
    assert "broken" in text and (out / "good.nc").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--windows", "32,64", "--overlap", "16,32"], "must not grow"),
        (["--windows", "64,32", "--overlap", "64,16"], "smaller than windows[0]=64"),
        (["--windows", "64,32", "--overlap", "32"], "one overlap per window"),
    ],
)
def test_bad_settings_are_named_with_the_fix(one_pair, tmp_path, capsys, extra, message) -> None:
    code, text = run([str(one_pair), "--out", str(tmp_path / "out"), *extra], capsys)
    assert code == 2
    assert message in text and "Traceback" not in text


def test_output_inside_input_is_refused(one_pair: Path, capsys) -> None:
    code, text = run([str(one_pair), "--out", str(one_pair / "results")], capsys)
    assert code == 2 and "inside the input folder" in text


def test_unpaired_frames_are_named(one_pair: Path, tmp_path: Path, capsys) -> None:
    shutil.copy(one_pair / "good_a.bmp", one_pair / "lonely_a.bmp")
    code, text = run([str(one_pair), "--out", str(tmp_path / "out")], capsys)
    assert code == 2 and "lonely_a.bmp" in text and "--pairing sequential" in text


def test_sixteen_bit_frames_keep_their_range(one_pair: Path, tmp_path: Path, capsys) -> None:
    """The same pattern scaled ×256 into 16 bits gives the same displacements."""
    import imageio.v3 as iio

    folder = tmp_path / "sixteen"
    folder.mkdir()
    for letter in "ab":
        frame = iio.imread(one_pair / f"good_{letter}.bmp").astype(np.uint16) * 256
        tifffile.imwrite(folder / f"deep_{letter}.tif", frame)
    out8, out16 = tmp_path / "o8", tmp_path / "o16"
    assert run([str(one_pair), "--out", str(out8), "--tiling", "none"], capsys)[0] == 0
    assert run([str(folder), "--out", str(out16), "--tiling", "none"], capsys)[0] == 0
    eight, sixteen = np.loadtxt(out8 / "good.txt"), np.loadtxt(out16 / "deep.txt")
    np.testing.assert_allclose(sixteen[:, 2:4], eight[:, 2:4], atol=1e-3)


def test_the_fast_engine_is_chosen_with_a_flag(one_pair: Path, tmp_path: Path, capsys) -> None:
    """`--engine fast` reaches the plan (run.json's `piv.engine`) and gives OpenPIV's vectors
    within the samples' tolerance."""
    fast, reference = tmp_path / "fast", tmp_path / "openpiv"
    assert run([str(one_pair), "--out", str(fast), "--engine", "fast"], capsys)[0] == 0
    assert run([str(one_pair), "--out", str(reference)], capsys)[0] == 0
    ours, theirs = np.loadtxt(fast / "good.txt"), np.loadtxt(reference / "good.txt")
    assert np.abs(ours[:, 2:4] - theirs[:, 2:4]).max() < 0.1
    with pytest.raises(SystemExit) as refused:
        run([str(one_pair), "--out", str(tmp_path / "x"), "--engine", "rust"], capsys)
    assert refused.value.code == 2 and "invalid choice: 'rust'" in capsys.readouterr().err
