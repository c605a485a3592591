"""The outputs, opened with what PIV users open them with: OpenPIV's text columns (numpy and
OpenPIV's own `tools.save`), xarray with cf_xarray, and pivpy; with and without calibration."""

from __future__ import annotations

import json
from pathlib import Path

import cf_xarray  # noqa: F401  (registers the `.cf` accessor)
import numpy as np
import pytest
import tifffile
import xarray as xr
from openpiv import scaling, tools
from pivpy import io as pivpy_io
from pivpy import pivpy  # noqa: F401  (registers the `.piv` accessor)

from pivfleet.cli.main import main
from tests.synthetic import make_pair, uniform, write_pair

SHAPE = (256, 320)
TRUE_U, TRUE_V = 3.2, -1.7
"""Pixels per frame pair, image axes (v down): the synthetic pairs' uniform displacement."""
DT_SECONDS, PIXELS_PER_METRE = 0.002, 250.0
METRES_PER_SECOND = 1 / (DT_SECONDS * PIXELS_PER_METRE)
"""A pixel per frame pair, in m/s: 2, so that a forgotten factor shows."""
CALIBRATION = ["--dt", str(DT_SECONDS), "--scaling-factor", str(PIXELS_PER_METRE)]


def run(folder: Path, out: Path, *extra: str) -> None:
    args = ["run", str(folder), "--out", str(out), "--workers", "1", "--engine", "fast"]
    assert main([*args, "--tiling", "none", *extra]) in (0, 1)


@pytest.fixture(scope="module")
def pairs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two pairs of a uniform flow, 8- and 16-bit."""
    folder = tmp_path_factory.mktemp("uniform")
    for seed, bits in ((1, 8), (2, 16)):
        write_pair(folder, f"u{seed}", make_pair(SHAPE, uniform(TRUE_U, TRUE_V), bits, seed))
    return folder


@pytest.fixture(scope="module")
def pixels(pairs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pixels")
    run(pairs, out)
    return out


@pytest.fixture(scope="module")
def metres(pairs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("metres")
    run(pairs, out, *CALIBRATION, "--pair-interval", "0.5", "--plot")
    return out


def test_calibrated_text_is_openpivs_scaled_save(pixels: Path, metres: Path, tmp_path) -> None:
    """What OpenPIV's windef writes with `dt` and `scaling_factor`: `u / dt`, then
    `scaling.uniform`, then `tools.save`."""
    x, y, u, v, flags, mask = np.loadtxt(pixels / "u1.txt").T
    scaled = scaling.uniform(x, y, u / DT_SECONDS, v / DT_SECONDS, PIXELS_PER_METRE)
    tools.save(tmp_path / "openpiv.txt", *scaled, flags, mask)
    expected, got = np.loadtxt(tmp_path / "openpiv.txt"), np.loadtxt(metres / "u1.txt")
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=2e-4, atol=1e-12)
    # m/s against the known displacement (v points up in OpenPIV's saved fields), within
    # PIV's own error on these pairs (0.05 px).
    good, error = got[:, 4] == 0, 0.05 * METRES_PER_SECOND
    assert np.median(got[good, 2]) == pytest.approx(TRUE_U * METRES_PER_SECOND, abs=error)
    assert np.median(got[good, 3]) == pytest.approx(-TRUE_V * METRES_PER_SECOND, abs=error)


def test_uncalibrated_text_is_in_pixels(pixels: Path) -> None:
    x, _, u, v, flags, _ = np.loadtxt(pixels / "u1.txt").T
    assert x.min() == 8.0  # the first 16 px window's centre
    assert np.median(u[flags == 0]) == pytest.approx(TRUE_U, abs=0.05)
    assert np.median(v[flags == 0]) == pytest.approx(-TRUE_V, abs=0.05)


def test_pair_netcdf_follows_cf_with_both_units(metres: Path) -> None:
    with xr.open_dataset(metres / "u2.nc") as field:
        assert field.attrs["Conventions"] == "CF-1.10"
        assert set(field.cf.axes) == {"X", "Y", "T"} and field.cf["time"].name == "t"
        assert field.u.dims == ("y", "x", "t") and field.t.attrs["units"] == "s"
        assert np.all(np.diff(field.y.values) > 0) and np.all(np.diff(field.x.values) > 0)
        assert field.x.attrs["units"] == "m" and field.x_pixel.attrs["units"] == "1"
        assert field.u.attrs["units"] == "m s-1" and field.u_pixel.attrs["units"] == "1"
        assert list(field.flags.attrs["flag_values"]) == [0, 1, 2]
        assert field.flags.attrs["flag_meanings"] == "valid replaced missing"
        np.testing.assert_allclose(field.x, field.x_pixel / PIXELS_PER_METRE)
        np.testing.assert_allclose(field.u, field.u_pixel * METRES_PER_SECOND, rtol=1e-6)
        np.testing.assert_allclose(field.v, field.v_pixel * METRES_PER_SECOND, rtol=1e-6)
        assert float(field.t[0]) == 0.5  # the second pair, half a second after the first
        assert field.attrs["delta_t"] == DT_SECONDS and field.attrs["frame_a"] == "u2_a.tif"
        settings = json.loads(field.attrs["pivfleet_settings"])
        assert settings["calibration"]["scaling_factor"] == PIXELS_PER_METRE
        assert "pivfleet_version" in field.attrs and "date_created" in field.attrs


@pytest.mark.parametrize("name", ["u1.nc", "run.nc"])
def test_netcdf_is_compressed_netcdf4_with_its_generation(metres: Path, name: str) -> None:
    """NetCDF4 (HDF5), not NetCDF3; every field zlib-compressed; the generation that wrote it
    and the frames of each pair in its attributes."""
    import netCDF4

    with netCDF4.Dataset(metres / name) as dataset:
        assert dataset.data_model == "NETCDF4"
        for variable in ("u", "v", "u_pixel", "v_pixel", "flags", "chc"):
            assert dataset[variable].filters()["zlib"], variable
        frames = dataset["frame_b"][:] if name == "run.nc" else [dataset.getncattr("frame_b")]
        assert list(frames) == ["u1_b.tif", "u2_b.tif"][: len(frames)]
        with netCDF4.Dataset(metres / "u2.nc") as pair:
            assert dataset.getncattr("generation") == pair.getncattr("generation") != ""


def test_pivpy_reads_the_text_as_zeros_and_the_docs_recipe_reads_it(pixels: Path) -> None:
    """What docs/reading-results.md says of pivpy 0.4's OpenPIV-text loader: it takes mask 0
    (every vector OpenPIV writes) as invalid; its `from_arrays` with our flags reads right."""
    loaded = pivpy_io.load_openpiv_txt(pixels / "u1.txt")
    assert float(abs(loaded.u).max()) == 0.0 and float(abs(loaded.v).max()) == 0.0
    x, y, u, v, flags, _ = np.loadtxt(pixels / "u1.txt", unpack=True)
    cols = np.unique(x).size
    x, y, u, v, flags = (column.reshape(-1, cols) for column in (x, y, u, v, flags))
    dataset = pivpy_io.from_arrays(x, y, u, v, mask=(flags == 0).astype(float))
    assert float(dataset.u.median()) == pytest.approx(TRUE_U, abs=0.05)
    assert float(dataset.v.median()) == pytest.approx(-TRUE_V, abs=0.05)


def test_a_pair_plot_is_written_on_request(metres: Path, pixels: Path) -> None:
    assert (metres / "u1.png").read_bytes().startswith(b"\x89PNG")
    assert not list(pixels.glob("*.png"))  # without --plot, neither the pairs' nor the run's


def test_an_origin_moves_the_coordinates_not_the_velocities(
    pairs: Path, metres: Path, tmp_path: Path
) -> None:
    """`--origin X,Y` (pixels, y up) becomes 0,0 m: positions shift by it, velocities do not."""
    origin = (40.0, 24.0)
    run(pairs, tmp_path, *CALIBRATION, "--pair-interval", "0.5", "--origin", "40,24")
    shifted, plain = np.loadtxt(tmp_path / "u1.txt"), np.loadtxt(metres / "u1.txt")
    np.testing.assert_allclose(shifted[:, 0], plain[:, 0] - origin[0] / PIXELS_PER_METRE)
    np.testing.assert_allclose(shifted[:, 1], plain[:, 1] - origin[1] / PIXELS_PER_METRE)
    np.testing.assert_array_equal(shifted[:, 2:], plain[:, 2:])
    with xr.open_dataset(tmp_path / "u1.nc") as field:
        np.testing.assert_allclose(field.x, (field.x_pixel - origin[0]) / PIXELS_PER_METRE)
        np.testing.assert_allclose(field.y, (field.y_pixel - origin[1]) / PIXELS_PER_METRE)
        assert json.loads(field.attrs["pivfleet_settings"])["calibration"]["origin"] == [40, 24]


def test_netcdf_holds_the_text_files_vectors(metres: Path) -> None:
    """The same vectors as the `.txt`: NetCDF's rows run up, the text file's down."""
    x, y, u, v, flags, _ = np.loadtxt(metres / "u1.txt").T
    with xr.open_dataset(metres / "u1.nc") as field:
        at = {"x": xr.DataArray(x), "y": xr.DataArray(y)}
        picked = field.isel(t=0).sel(at, method="nearest")
        np.testing.assert_allclose(picked.x, x, rtol=1e-4)
        np.testing.assert_allclose(picked.u, u, rtol=2e-4, atol=1e-9)
        np.testing.assert_allclose(picked.v, v, rtol=2e-4, atol=1e-9)
        np.testing.assert_array_equal(picked.flags, flags)
        np.testing.assert_array_equal(picked.chc, flags == 0)


def test_uncalibrated_netcdf_says_pixels_and_has_no_time_in_seconds(pixels: Path) -> None:
    with xr.open_dataset(pixels / "run.nc") as field:
        assert field.u.attrs["units"] == "1" and "pixels" in field.u.attrs["long_name"]
        assert "standard_name" not in field.t.attrs  # suffix pairs: no interval was given
        assert list(field.t.values) == [0.0, 1.0] and "u_pixel" not in field
        assert "delta_t" not in field.attrs


@pytest.mark.parametrize(("name", "steps"), [("u1.nc", [0.0]), ("run.nc", [0.0, 0.5])])
def test_pivpy_reads_a_pair_and_the_run(metres: Path, name: str, steps: list[float]) -> None:
    dataset = pivpy_io.read_piv(metres / name)
    assert dataset.attrs["delta_t"] == DT_SECONDS and list(dataset.t.values) == steps
    mean = dataset.piv.average
    assert float(mean.u.median()) == pytest.approx(TRUE_U * METRES_PER_SECOND, abs=0.1)
    dataset.piv.vorticity()
    assert abs(float(dataset["w"].median())) < 1.0  # s⁻¹: a uniform flow has none
    assert dataset["w"].sizes == dataset["u"].sizes


def test_run_dataset_holds_every_pair_along_time(metres: Path) -> None:
    with xr.open_dataset(metres / "run.nc") as run, xr.open_dataset(metres / "u2.nc") as pair:
        assert list(run.pair.values) == ["u1", "u2"] and run.attrs["pairs_left_out"] == ""
        np.testing.assert_array_equal(run.u.isel(t=1), pair.u.isel(t=0))
        assert run.t.attrs["standard_name"] == "time"
    assert (metres / "run.png").read_bytes().startswith(b"\x89PNG")


def test_cascade_times_and_a_start_time(tmp_path: Path) -> None:
    """Cascade pairs (1-2, 2-3) are `dt` apart; a start time makes CF datetimes."""
    folder = tmp_path / "in"
    folder.mkdir()
    pair, later = make_pair(SHAPE, uniform(), 8, 3), make_pair(SHAPE, uniform(), 8, 4)
    for index, frame in enumerate([pair.frame_a, pair.frame_b, later.frame_b]):
        tifffile.imwrite(folder / f"frame_{index:03d}.tif", frame)
    out = tmp_path / "out"
    run(folder, out, "--pairing", "cascade", "--dt", "0.01", "--start-time", "2026-05-04T10:00")
    with xr.open_dataset(out / "run.nc") as run_dataset:
        times = run_dataset.t.values
        assert times[0] == np.datetime64("2026-05-04T10:00:00")
        assert (times[1] - times[0]) == np.timedelta64(10, "ms")
        assert run_dataset.sizes["t"] == 2


def test_pairs_of_another_size_or_failed_are_named_not_merged(pairs: Path, tmp_path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for path in pairs.iterdir():
        (folder / path.name).symlink_to(path)
    write_pair(folder, "small", make_pair((200, 240), uniform(), 8, 5))
    (folder / "broken_a.tif").write_bytes(b"no image")
    (folder / "broken_b.tif").write_bytes(b"no image")
    out = tmp_path / "out"
    run(folder, out)
    with xr.open_dataset(out / "run.nc") as run_dataset:
        assert list(run_dataset.pair.values) == ["u1", "u2"]
        assert run_dataset.attrs["pairs_left_out"] == "broken, small"


def test_no_dataset_when_asked(pairs: Path, tmp_path: Path) -> None:
    run(pairs, tmp_path, "--no-dataset")
    assert not (tmp_path / "run.nc").exists() and (tmp_path / "u1.nc").exists()
