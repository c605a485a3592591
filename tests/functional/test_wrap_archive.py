"""The source archive `pivfleet wrap` puts in the build context is an sdist pip can build: the
wheel it makes holds every package the image runs and registers the built-in algorithm and the
console script (built here without build isolation, so no network)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from pivfleet.algorithms.build_context import Checkout, source_archive

REPO = Path(__file__).resolve().parents[2]


def test_the_archive_builds_a_wheel_with_what_the_image_runs(tmp_path: Path) -> None:
    pytest.importorskip("setuptools", minversion="69")  # pyproject's build-system
    checkout = Checkout(REPO)
    archive = tmp_path / f"pivfleet-{checkout.version}.tar.gz"
    archive.write_bytes(source_archive(checkout))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(tmp_path / "dist"), str(archive)],
        check=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    (wheel,) = (tmp_path / "dist").glob("pivfleet-*.whl")
    with zipfile.ZipFile(wheel) as built:
        names = set(built.namelist())
        entry_points = built.read(f"pivfleet-{checkout.version}.dist-info/entry_points.txt")
    for module in ("worker/__main__.py", "pivfleet/cli/__main__.py", "collector/__main__.py",
                   "pivfleet/algorithms/executable.py", "dispatcher/handler.py"):  # fmt: skip
        assert module in names
    text = entry_points.decode()
    assert "pivfleet = pivfleet.cli.main:main" in text
    assert "windef = pivfleet.algorithms.windef:WindefAlgorithm" in text
