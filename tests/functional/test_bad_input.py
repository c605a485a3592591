"""Bad input to `pivfleet run` is refused at once (exit 2) with a message naming the path or
the setting and the fix; nothing is written and the inputs are untouched."""

from __future__ import annotations

from pathlib import Path

import pytest

from pivfleet.cli.main import main


def refused(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["run", *args, "--workers", "1"]) == 2
    return capsys.readouterr().err


def test_a_missing_input_folder_is_named(tmp_path: Path, capsys) -> None:
    error = refused([str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")], capsys)
    assert f"INPUT {tmp_path / 'nowhere'} does not exist" in error
    assert not (tmp_path / "out").exists()


def test_an_input_that_is_a_file_points_at_its_folder(
    one_pair: Path, tmp_path: Path, capsys
) -> None:
    frame = one_pair / "good_a.bmp"
    error = refused([str(frame), "--out", str(tmp_path / "out")], capsys)
    assert f"INPUT {frame} is a file" in error and f"({one_pair})" in error


def test_an_unreadable_input_folder_is_named(
    one_pair: Path, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Permissions cannot stop root (CI runs as root), so the folder's listing is refused."""
    listing = Path.iterdir

    def denied(path: Path):
        if path == one_pair:
            raise PermissionError(13, "Permission denied")
        return listing(path)

    monkeypatch.setattr(Path, "iterdir", denied)
    error = refused([str(one_pair), "--out", str(tmp_path / "out")], capsys)
    assert f"INPUT {one_pair} cannot be read (Permission denied)" in error


def test_a_misspelt_algorithm_stops_the_run_before_any_pair(
    one_pair: Path, tmp_path: Path, capsys
) -> None:
    before = {p.name: p.read_bytes() for p in one_pair.iterdir()}
    error = refused(
        [str(one_pair), "--out", str(tmp_path / "out"), "--algorithm", "windeff"], capsys
    )
    assert "unknown algorithm 'windeff'; installed: windef" in error
    assert not (tmp_path / "out").exists()
    assert {p.name: p.read_bytes() for p in one_pair.iterdir()} == before
