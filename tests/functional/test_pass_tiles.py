"""Pass-synchronous tiles through the embedded pipeline: a pair cut into tiles of any size gets
the whole pair's vectors, the global std test on, on OpenPIV's samples and on synthetic pairs
of known displacement (8- and 16-bit, sizes that are not window multiples)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from pivfleet.cli.embedded import EmbeddedRun
from pivfleet.core.spec import RunSpec
from pivfleet.core.summary import RunSummary
from tests.synthetic import make_pair, shear, vortex, write_pair

pytestmark = pytest.mark.slow
SAME_VECTOR_PX = 1e-3
POOL_WORKERS = 2
AUTO_EXPECTED_WORKERS = 16
"""`tiling: auto` with this many workers expected tiles the larger pairs (test4 at ~810 px)."""


@pytest.fixture(scope="module")
def pairs(sample_input: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pairs")
    for frame in sample_input.iterdir():
        shutil.copy(frame, folder / frame.name)
    write_pair(folder, "shear16", make_pair((333, 517), shear(), bits=16, seed=1))
    write_pair(folder, "vortex8", make_pair((301, 459), vortex((150, 230)), bits=8, seed=2))
    return folder


def run(folder: Path, out: Path, tiling: str | int, expected_workers: int) -> RunSummary:
    spec = RunSpec(run="tiles", tiling=tiling, workers=expected_workers)
    summary = EmbeddedRun(spec, folder, out, workers=POOL_WORKERS).execute()
    assert summary.status == "done", summary
    return summary


@pytest.fixture(scope="module")
def whole(pairs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("whole")
    summary = run(pairs, out, "none", POOL_WORKERS)
    assert all(p.tiles == 1 and not p.passes for p in summary.pairs)
    return out


@pytest.mark.parametrize("tiling", [128, 384, "auto"])
def test_every_vector_of_a_tiled_pair_equals_the_whole_pairs(
    pairs: Path, whole: Path, tmp_path: Path, tiling: str | int
) -> None:
    summary = run(pairs, tmp_path, tiling, AUTO_EXPECTED_WORKERS)
    tiled = {p.pair: p for p in summary.pairs if p.passes}
    assert "test4" in tiled and tiled["test4"].tiles > 3, summary.pairs
    if tiling == 128:
        assert set(tiled) == {p.pair for p in summary.pairs}
    for status in summary.pairs:
        with (
            xr.open_dataset(whole / f"{status.pair}.nc") as expected,
            xr.open_dataset(tmp_path / f"{status.pair}.nc") as got,
        ):
            for name in ("u", "v"):
                difference = np.abs(got[name].values - expected[name].values)
                assert difference.max() <= SAME_VECTOR_PX, (status.pair, name)
            np.testing.assert_array_equal(got.flags.values, expected.flags.values)
