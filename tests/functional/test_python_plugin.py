"""The Python plugin example, `examples/python_plugin`, installed as a user installs it (pip,
its own pyproject.toml and entry point) into a scratch folder, then run by `pivfleet run
--algorithm single-pass` in a fresh process on a pair with a known displacement."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.synthetic import make_pair, uniform, write_pair

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "python_plugin"
PIVFLEET = str(Path(sys.executable).parent / "pivfleet")
TRUTH = (3.2, -1.7)
"""Pixels per frame, u right and v down (the pair moves up)."""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example pip-installed into a folder of its own (a copy is built, so the example's
    folder gets no build files); pivfleet and openpiv come from this environment."""
    scratch = tmp_path_factory.mktemp("plugin")
    shutil.copytree(EXAMPLE, scratch / "source")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
         "--no-build-isolation", "--target", str(scratch / "site"), str(scratch / "source")],
        check=True,
    )  # fmt: skip
    return scratch / "site"


def pivfleet(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    paths = [str(site), str(REPO), os.environ.get("PYTHONPATH", "")]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, paths)))
    env.pop("PIVFLEET_ALGORITHM_SPECS", None)
    return subprocess.run(
        [PIVFLEET, *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_the_installed_plugin_is_listed(site: Path) -> None:
    listed = pivfleet(site, "algorithms")
    assert listed.returncode == 0 and "single-pass" in listed.stdout, listed


def test_pivfleet_run_measures_a_known_displacement_with_the_plugin(
    site: Path, tmp_path: Path
) -> None:
    write_pair(tmp_path / "in", "moved", make_pair((192, 256), uniform(*TRUTH)))
    result = pivfleet(
        site, "run", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--algorithm",
        "single-pass", "--param", "threshold=1.5", "--windows", "32", "--overlap", "16",
        "--workers", "1", "--no-dataset",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["status"] == "done", summary
    u, v = np.loadtxt(tmp_path / "out" / "moved.txt")[:, 2:4].T
    assert abs(np.nanmedian(u) - TRUTH[0]) < 0.2
    assert abs(np.nanmedian(v) + TRUTH[1]) < 0.2  # the outputs' v points up


def test_a_misspelt_parameter_is_refused_before_anything_runs(site: Path, tmp_path: Path) -> None:
    write_pair(tmp_path / "in", "moved", make_pair((192, 256), uniform(*TRUTH)))
    result = pivfleet(
        site, "run", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--algorithm",
        "single-pass", "--param", "treshold=1.5",
    )  # fmt: skip
    assert result.returncode == 2, result
    assert "single-pass takes only 'threshold'; unknown ['treshold']" in result.stderr
    assert not (tmp_path / "out" / "summary.json").exists()
