"""A corpus of bad and unusual input, generated here (no binary fixtures), each case run
through `pivfleet run` beside a good pair: the exit code, a message naming the file or the
setting and its cause, the good pair finished, and the inputs byte-identical afterwards."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile

from pivfleet.cli.main import main
from pivfleet.core.summary import RunSummary

SIDE = 200  # px: enough for the default 64/32/16 passes, not a multiple of any window
Writer = Callable[[Path], None]


def speckle(dtype: type = np.uint8, top: float = 255, side: int = SIDE) -> np.ndarray:
    """Particle-like random texture, seeded: frame B is frame A shifted by 3 px."""
    values = np.random.default_rng(7).random((side, side)) ** 4 * top
    return values.astype(dtype)


def tiff_pair(frame_a: np.ndarray, frame_b: np.ndarray | None = None, **options: object) -> Writer:
    def write(folder: Path) -> None:
        second = np.roll(frame_a, 3, axis=1) if frame_b is None else frame_b
        tifffile.imwrite(folder / "bad_a.tif", frame_a, **options)
        tifffile.imwrite(folder / "bad_b.tif", second, **options)

    return write


def with_nan(value: float) -> np.ndarray:
    frame = speckle(np.float32, 1.0)
    frame[11, 17] = value
    return frame


def half_black(side: int = SIDE) -> np.ndarray:
    """Particles on the right half only, as when a mask or a wall hides the rest."""
    frame = speckle()
    frame[:, : side // 2] = 0
    return frame


def stack(folder: Path) -> None:
    frames = np.stack([speckle(), np.roll(speckle(), 3, axis=1)])
    tifffile.imwrite(folder / "bad_a.tif", frames)
    tifffile.imwrite(folder / "bad_b.tif", frames)


def garbage(folder: Path) -> None:
    (folder / "bad_a.tif").write_bytes(b"II*\x00" + os.urandom(300))
    tifffile.imwrite(folder / "bad_b.tif", speckle())


def truncated_png(folder: Path) -> None:
    data = iio.imwrite("<bytes>", speckle(), extension=".png")
    (folder / "bad_a.png").write_bytes(data[: len(data) // 2])
    iio.imwrite(folder / "bad_b.png", speckle())


def png16(folder: Path) -> None:
    iio.imwrite(folder / "bad_a.png", speckle(np.uint16, 65535))
    iio.imwrite(folder / "bad_b.png", np.roll(speckle(np.uint16, 65535), 3, axis=1))


def long_names(folder: Path) -> None:
    stem = "x" * 244  # + "_a.tif": a 250-character name
    tifffile.imwrite(folder / f"{stem}_a.tif", speckle())
    tifffile.imwrite(folder / f"{stem}_b.tif", np.roll(speckle(), 3, axis=1))


def linked_from_outside(folder: Path) -> None:
    """Frames linked in from an archive beside the input folder."""
    archive = folder.parent / "archive"
    archive.mkdir()
    tiff_pair(speckle())(archive)
    for letter in "ab":
        (folder / f"bad_{letter}.tif").symlink_to(archive / f"bad_{letter}.tif")


@dataclass(frozen=True)
class Case:
    write: Writer
    says: tuple[str, ...] = ()
    """What the message must say besides the file's name; empty: the pair must succeed."""
    pair: str = "bad"


CASES = {
    # images cameras and tools write: they must simply work
    "lzw_8bit_tiff": Case(tiff_pair(speckle(), compression="lzw")),
    "lzw_16bit_tiff": Case(tiff_pair(speckle(np.uint16, 65535), compression="lzw")),
    "deflate_16bit_tiff": Case(tiff_pair(speckle(np.uint16, 4095), compression="zlib")),
    "float_tiff": Case(tiff_pair(speckle(np.float32, 1.0))),
    "png_16bit": Case(png16),
    "name_of_250_characters": Case(long_names, pair="x" * 244),
    "symlink_to_outside_the_folder": Case(linked_from_outside),
    "half_black_frame": Case(tiff_pair(half_black(), np.roll(half_black(), 3, axis=1))),
    # images that cannot be read
    "multi_page_stack": Case(stack, ("holds 2 frames", "one frame per file")),
    "garbage_named_tif": Case(garbage, ("cannot be read",)),
    "truncated_png": Case(truncated_png, ("cannot be read",)),
    # causes, not symptoms
    "all_black": Case(tiff_pair(np.zeros((SIDE, SIDE), np.uint8)), ("every pixel is 0", "black")),
    "saturated_8bit": Case(tiff_pair(np.full((SIDE, SIDE), 255, np.uint8)), ("saturated",)),
    "saturated_16bit": Case(tiff_pair(np.full((SIDE, SIDE), 65535, np.uint16)), ("saturated",)),
    "uniform_grey": Case(tiff_pair(np.full((SIDE, SIDE), 90, np.uint8)), ("no texture",)),
    "nan_pixel": Case(tiff_pair(with_nan(np.nan)), ("NaN or infinite", "x 17, y 11")),
    "inf_pixel": Case(tiff_pair(with_nan(np.inf)), ("NaN or infinite",)),
    "one_window_frame": Case(tiff_pair(speckle(side=64)), ("64×64 px", "at least 160×160")),
    "sizes_differ": Case(
        tiff_pair(speckle(), speckle(side=SIDE + 8)), ("must have the same size",)
    ),
}


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (a link read through to its target), and which are links."""
    return {
        f"{p.relative_to(folder)}{' (link)' if p.is_symlink() else ''}": p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def exit_code(argv: list[str]) -> int | str | None:
    """`pivfleet`'s exit status, whether `main` returns it or argparse exits with it."""
    try:
        return main(argv)
    except SystemExit as exit_:
        return exit_.code


@pytest.mark.parametrize("name", list(CASES))
def test_each_input_gets_a_clear_answer_and_the_good_pair_finishes(
    name: str, one_pair: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = CASES[name]
    case.write(one_pair)
    before, out = snapshot(one_pair), tmp_path / "out"
    code = main(["run", str(one_pair), "--out", str(out), "--workers", "1"])
    printed = capsys.readouterr().err
    summary = RunSummary.model_validate_json((out / "summary.json").read_bytes())
    states = {p.pair: p for p in summary.pairs}
    assert states["good"].status == "done" and (out / "good.txt").is_file()
    if not case.says:
        assert (code, states[case.pair].status) == (0, "done"), printed
        assert (out / f"{case.pair}.txt").is_file()
    else:
        [error] = states[case.pair].errors
        assert code == 1 and states[case.pair].status == "failed"
        assert "bad_a." in error and all(part in error for part in case.says), error
        assert error in printed  # said on the terminal too, not only in summary.json
    assert "Traceback" not in printed, printed
    assert snapshot(one_pair) == before


def test_a_run_whose_only_pair_is_bad_names_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    tiff_pair(np.zeros((SIDE, SIDE), np.uint8))(folder)
    assert main(["run", str(folder), "--out", str(tmp_path / "out"), "--workers", "1"]) == 1
    assert "bad_a.tif: every pixel is 0" in capsys.readouterr().err


def test_frames_smaller_than_the_windows_name_the_file_and_the_setting(
    one_pair: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Windows larger than every frame: each pair fails naming its frame and --windows."""
    out = str(tmp_path / "out")
    assert main(["run", str(one_pair), "--out", out, "--windows", "512", "--overlap", "0"]) == 1
    error = capsys.readouterr().err
    assert "good_a.bmp is 511×369 px; --windows 512 needs frames of at least 512×512" in error


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--u-range", "nan,nan"], "--u-range: Input should be a finite number"),
        (["--u-range", "nan"], "--u-range: 'nan': give MIN,MAX"),
        (["--std-threshold", "inf"], "--std-threshold: Input should be a finite number"),
        (["--max-frame-pixels", "0"], "--max-frame-pixels: Input should be greater"),
        (["--windows", "64,32", "--overlap", "32"], "give one overlap per window"),
        (["--workers", "0"], "--workers 0: use 1 to"),
        (["--workers", "10000"], "--workers 10000: use 1 to"),
    ],
)
def test_bad_settings_are_refused_at_once_naming_the_flag(
    flags: list[str], says: str, one_pair: Path, tmp_path: Path, capsys
) -> None:
    before = snapshot(one_pair)
    assert exit_code(["run", str(one_pair), "--out", str(tmp_path / "out"), *flags]) == 2
    assert says in capsys.readouterr().err
    assert not (tmp_path / "out").exists() and snapshot(one_pair) == before
