"""pivfleet's whole-pair pipeline against OpenPIV itself, on OpenPIV's own sample pairs."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from openpiv import windef

from pivfleet.cli.embedded import EmbeddedRun
from pivfleet.core.imaging import as_double, read_frame
from pivfleet.core.spec import PivSettings, RunSpec
from tests.openpiv_settings import to_openpiv

pytestmark = pytest.mark.slow
SAME_VECTOR_PX = 1e-3


def run_pipeline(input_dir: Path, out_dir: Path, tiling: str | int) -> Path:
    spec = RunSpec(run="accuracy", tiling=tiling, workers=2)
    summary = EmbeddedRun(spec, input_dir, out_dir, workers=2).execute()
    assert summary.status == "done", summary
    return out_dir


@pytest.fixture(scope="module")
def untiled(sample_input: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_pipeline(sample_input, tmp_path_factory.mktemp("none"), "none")


def openpiv_reference(
    sample_input: Path, pair: str, settings: windef.PIVSettings
) -> tuple[np.ndarray, ...]:
    """`simple_multipass` on the same frames as float64 arrays."""
    paths = sorted(sample_input.glob(f"{pair}_?.*"))
    frame_a, frame_b = (as_double(read_frame(str(p))) for p in paths)
    with contextlib.redirect_stdout(io.StringIO()):
        x, y, u, v, flags = windef.simple_multipass(frame_a, frame_b, settings)
    return x, y, u, v, flags


@pytest.mark.parametrize("pair", ["test1", "test2", "test4", "test5"])
def test_untiled_run_reproduces_openpiv_simple_multipass_with_its_defaults(
    untiled: Path, sample_input: Path, pair: str
) -> None:
    """pivfleet's defaults are OpenPIV's (its global std test included): no settings to match."""
    x, y, u, v, flags = openpiv_reference(sample_input, pair, windef.PIVSettings())
    with xr.open_dataset(untiled / f"{pair}.nc") as dataset:
        field = dataset.isel(t=0)
        # OpenPIV's rows run down its y (up); the NetCDF's rows run up it.
        np.testing.assert_array_equal(field.x.values, x[0, :])
        np.testing.assert_array_equal(field.y.values, y[::-1, 0])
        assert np.max(np.abs(field.u.values - u[::-1])) <= SAME_VECTOR_PX
        assert np.max(np.abs(field.v.values - v[::-1])) <= SAME_VECTOR_PX
        np.testing.assert_array_equal(field.flags.values, flags[::-1].astype(np.int8))


def test_text_output_has_openpivs_columns_and_order(untiled: Path, sample_input: Path) -> None:
    x, y, u, v, flags = openpiv_reference(sample_input, "test1", windef.PIVSettings())
    table = np.loadtxt(untiled / "test1.txt")
    expected = np.vstack([a.ravel() for a in (x, y, u, v, flags.astype(float), 0 * u)]).T
    assert table.shape == expected.shape
    np.testing.assert_allclose(table, expected, rtol=1e-4, atol=1e-4)


def test_engine_matches_openpiv_with_its_global_std_test_off(sample_input: Path) -> None:
    """With the std test switched off in both, the untiled engine still matches OpenPIV."""
    from pivfleet.algorithms.windef import WindefAlgorithm

    piv = PivSettings(std_threshold=None)
    frame_a, frame_b = (read_frame(str(p)) for p in sorted(sample_input.glob("test5_?.*")))
    vectors = WindefAlgorithm().process(frame_a, frame_b, piv, {})
    _, _, u, v, _ = openpiv_reference(sample_input, "test5", to_openpiv(piv))
    assert np.max(np.abs(vectors.u - u)) <= SAME_VECTOR_PX
    assert np.max(np.abs(-vectors.v - v)) <= SAME_VECTOR_PX
