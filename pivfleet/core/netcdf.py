"""CF-1.10 NetCDF4 files of PIV fields: one pair's, or every pair of a run along time.

The layout is pivpy's where it does not fight CF: dimensions `(y, x, t)`, coordinates `x`,
`y` (window centres, increasing: y points up, as in OpenPIV's saved fields) and `t`, variables
`u`, `v` and pivpy's validity `chc`, and `delta_t` among the global attributes. Values are in
the calibration's units (metres, seconds) with the pixel values beside them (`u_pixel`,
`x_pixel`, …); uncalibrated, everything is in pixels, which UDUNITS has no name for, so their
`units` are "1" and their long names say "pixels".

netCDF4 (Unidata's library) writes them directly: the collector needs neither xarray nor a
scratch file for a pair, and a run's dataset grows one time step at a time on disk.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from pivfleet import __version__
from pivfleet.core.calibration import Units, output_units
from pivfleet.core.outputs import calibrate
from pivfleet.core.spec import RunSpec
from pivfleet.core.stitching import Field
from pivfleet.core.vectors import FLAG_MISSING, FLAG_VALID

CONVENTIONS = "CF-1.10"
DIMS = ("y", "x", "t")
COMPRESSION: dict[str, Any] = {"compression": "zlib", "complevel": 1, "shuffle": True}
"""Level 1: nearly all of zlib's gain on flags and smooth fields, at a fraction of its time."""
FLAG_MEANINGS = "valid replaced missing"
PER_PAIR = ("pair", "frame_a", "frame_b")
"""Strings along `t`: which pair, and which frames, each time step is."""


@dataclass(frozen=True)
class Step:
    """One pair's field (OpenPIV's coordinates, pixels) and its place in the run."""

    field: Field
    index: int
    """The pair's position in the run (pairing order): its time step."""
    pair: str
    frame_a: str
    frame_b: str


@dataclass(frozen=True)
class Layout:
    """What a run's files say about units and time: the same for every pair of it."""

    spec: RunSpec
    units: Units
    seconds_between_pairs: float | None

    @classmethod
    def of(cls, spec: RunSpec) -> Layout:
        calibration = spec.calibration
        return cls(
            spec,
            output_units(calibration),
            calibration.seconds_between_pairs(spec.pairing.mode),
        )

    def time(self, index: int) -> float:
        return index * (self.seconds_between_pairs or 1.0)


def render_pair(step: Step, layout: Layout, generation: str) -> bytes:
    """One pair's CF NetCDF4 file. Written to a scratch file: netCDF's in-memory files are
    padded to 64 KiB steps, three times a small pair's size."""
    import netCDF4

    with tempfile.TemporaryDirectory(prefix="pivfleet-nc-") as scratch:
        path = Path(scratch) / "pair.nc"
        with netCDF4.Dataset(path, "w") as dataset:
            pixels = {"x": step.field.x[0, :], "y": step.field.y[::-1, 0]}
            define(dataset, pixels, layout, f"PIV vector field of pair {step.pair}")
            dataset.setncatts({name: getattr(step, name) for name in PER_PAIR})
            dataset.setncattr("generation", generation)
            append(dataset, 0, step, layout)
        return path.read_bytes()


@contextmanager
def run_dataset(
    path: Path, first: bytes, layout: Layout, left_out: list[str]
) -> Iterator[RunDataset]:
    """A run's dataset at `path`, on the grid of its `first` pair's file; `left_out`: the
    pairs it will not hold (failed, or on another grid), named in its attributes."""
    import netCDF4

    with netCDF4.Dataset("first.nc", memory=first) as pair:
        pixels = pixel_grid(pair, layout)
        generation = pair.getncattr("generation")  # the outputs of one generation only
    dataset = netCDF4.Dataset(path, "w")
    try:
        define(dataset, pixels, layout, f"PIV vector fields of run {layout.spec.run}")
        for name in PER_PAIR:
            variable = dataset.createVariable(name, str, ("t",))
            variable.long_name = f"{name.replace('_', ' ')} of each time step"
        dataset.setncatts({"generation": generation, "pairs_left_out": ", ".join(left_out)})
        yield RunDataset(dataset, pixels, layout)
    finally:
        dataset.close()


@dataclass
class RunDataset:
    """Pairs' files appended along `t` as they are read: one pair in memory at a time."""

    dataset: Any
    pixels: dict[str, npt.NDArray[Any]]
    layout: Layout
    count: int = 0
    sums: npt.NDArray[np.float64] | None = None
    """Sums of the valid vectors' u and v in pixels, and how many there were, for the mean."""

    def add(self, data: bytes) -> None:
        """Append the pair in `data`, a file `render_pair` wrote for this run."""
        import netCDF4

        with netCDF4.Dataset("pair.nc", memory=data) as pair:
            grid = pixel_grid(pair, self.layout)
            if any(not np.array_equal(grid[a], self.pixels[a]) for a in "xy"):
                raise ValueError(f"{pair.getncattr('pair')} is not on the run dataset's grid")
            for name, variable in self.dataset.variables.items():
                if name in PER_PAIR:
                    variable[self.count] = pair.getncattr(name)
                elif "t" in variable.dimensions:
                    variable[..., self.count] = pair[name][..., 0]
            self.accumulate(pair)
        self.count += 1

    def accumulate(self, pair: Any) -> None:
        suffix = "_pixel" if self.layout.units.calibrated else ""
        valid = np.asarray(pair["flags"][..., 0]) == FLAG_VALID
        u, v = (np.asarray(pair[name + suffix][..., 0], np.float64) for name in "uv")
        step = np.stack([np.where(valid, u, 0.0), np.where(valid, v, 0.0), valid])
        self.sums = step if self.sums is None else self.sums + step

    def mean(self) -> Field:
        """The mean of each vector over the pairs where it was valid, as a pair's field in
        pixels (OpenPIV's coordinates); missing where it never was."""
        if self.sums is None:
            raise ValueError("no pair was added: there is no mean")
        u_sum, v_sum, count = self.sums
        seen = count > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            u, v = np.where(seen, u_sum / count, np.nan), np.where(seen, v_sum / count, np.nan)
        x, y = np.meshgrid(self.pixels["x"], self.pixels["y"][::-1])
        flags = np.where(seen, FLAG_VALID, FLAG_MISSING).astype(np.int8)
        return Field(x=x, y=y, u=u[::-1], v=v[::-1], flags=flags[::-1])


def pixel_grid(dataset: Any, layout: Layout) -> dict[str, npt.NDArray[Any]]:
    """A file's window centres in pixels."""
    suffix = "_pixel" if layout.units.metric else ""
    return {axis: np.asarray(dataset[axis + suffix][:]) for axis in "xy"}


def define(dataset: Any, pixels: dict[str, npt.NDArray[Any]], layout: Layout, title: str) -> None:
    """Dimensions, coordinates, variables and global attributes for fields on the grid of
    window centres `pixels` (x, and y increasing)."""
    rows, cols = pixels["y"].size, pixels["x"].size
    dataset.createDimension("y", rows)
    dataset.createDimension("x", cols)
    dataset.createDimension("t", None)
    define_grid(dataset, pixels, layout)
    define_fields(dataset, layout, (rows, cols))
    dataset.setncatts(global_attributes(layout, title))


def define_grid(dataset: Any, pixels: dict[str, npt.NDArray[Any]], layout: Layout) -> None:
    """`x`, `y` (calibrated when the run is) from the window centres in pixels, and `t`."""
    units = layout.units
    for index, axis in enumerate("xy"):
        values = pixels[axis]
        variable = dataset.createVariable(axis, "f8", (axis,))
        variable[:] = units.position(values, index)
        variable.setncatts(
            {
                "units": "m" if units.metric else "1",
                "axis": axis.upper(),
                "long_name": f"{axis} of the window centres"
                + ("" if units.metric else ", pixels")
                + (", up" if axis == "y" else ", right"),
            }
        )
        if units.metric:
            raw = dataset.createVariable(f"{axis}_pixel", "f8", (axis,))
            raw[:] = values
            raw.setncatts({"units": "1", "long_name": f"{axis} of the window centres, pixels"})
    define_time(dataset, layout)


def define_time(dataset: Any, layout: Layout) -> None:
    time = dataset.createVariable("t", "f8", ("t",))
    start = layout.spec.calibration.start_time
    if layout.seconds_between_pairs is None:
        time.setncatts(
            {
                "units": "1",
                "long_name": "pair number in the run; calibration.pair_interval or dt with "
                "cascade or sequential pairing makes it seconds",
            }
        )
        return
    time.setncatts(
        {
            "units": f"seconds since {start.isoformat()}" if start else "s",
            "standard_name": "time",
            "axis": "T",
            "long_name": "time of the pair's frame A"
            + ("" if start else ", from the run's first pair"),
        }
    )


def define_fields(dataset: Any, layout: Layout, grid: tuple[int, int]) -> None:
    units, chunks = layout.units, (*grid, 1)
    velocity = velocity_attributes(units)
    for name, axis in (("u", "x"), ("v", "y")):
        variable = dataset.createVariable(
            name, "f4", DIMS, fill_value=np.float32(np.nan), chunksizes=chunks, **COMPRESSION
        )
        variable.setncatts({**velocity, "long_name": velocity["long_name"] % axis})
        if units.calibrated:
            raw = dataset.createVariable(
                f"{name}_pixel", "f4", DIMS, fill_value=np.float32(np.nan), chunksizes=chunks,
                **COMPRESSION,
            )  # fmt: skip
            raw.setncatts(
                {"units": "1", "long_name": f"displacement along {axis} from frame A to B, pixels"}
            )
    flags = dataset.createVariable("flags", "i1", DIMS, chunksizes=chunks, **COMPRESSION)
    flags.setncatts(
        {
            "long_name": "vector status",
            "flag_values": np.array([0, 1, 2], np.int8),
            "flag_meanings": FLAG_MEANINGS,
        }
    )
    chc = dataset.createVariable("chc", "i1", DIMS, chunksizes=chunks, **COMPRESSION)
    chc.setncatts(
        {
            "long_name": "validity as pivpy reads it: 1 where flags is valid",
            "flag_values": np.array([0, 1], np.int8),
            "flag_meanings": "not_valid valid",
        }
    )


def velocity_attributes(units: Units) -> dict[str, str]:
    length = "m" if units.metric else ""
    if units.timed:
        cf = f"{length} s-1" if length else "s-1"
        name = "velocity along %s" + ("" if units.metric else ", pixels per second")
    else:
        cf = length or "1"
        name = "displacement along %s from frame A to B" + ("" if units.metric else ", pixels")
    return {"units": cf, "long_name": name}


def append(dataset: Any, index: int, step: Step, layout: Layout) -> None:
    """Write `step` as time step `index`: rows flipped so that y increases."""
    field, units = step.field, layout.units
    scaled = calibrate(field, units)
    dataset["t"][index] = layout.time(step.index)
    dataset["u"][:, :, index] = scaled.u[::-1]
    dataset["v"][:, :, index] = scaled.v[::-1]
    if units.calibrated:
        dataset["u_pixel"][:, :, index] = field.u[::-1]
        dataset["v_pixel"][:, :, index] = field.v[::-1]
    dataset["flags"][:, :, index] = field.flags[::-1]
    dataset["chc"][:, :, index] = (field.flags[::-1] == FLAG_VALID).astype(np.int8)


def global_attributes(layout: Layout, title: str) -> dict[str, Any]:
    spec, units = layout.spec, layout.units
    now = datetime.now(UTC).isoformat(timespec="seconds")
    settings = spec.model_dump(mode="json", include={"piv", "calibration", "pairing", "algorithm"})
    attributes: dict[str, Any] = {
        "Conventions": CONVENTIONS,
        "title": title,
        "source": f"pivfleet {__version__}, algorithm {spec.algorithm}, engine {spec.piv.engine}",
        "history": f"{now} pivfleet {__version__}: run {spec.run}",
        "date_created": now,
        "run": spec.run,
        "pivfleet_version": __version__,
        "pivfleet_settings": json.dumps(settings, sort_keys=True),
        "units_note": f"lengths in {units.length_name}, velocities in {units.velocity_name}",
    }
    if spec.calibration.dt is not None:
        attributes["delta_t"] = spec.calibration.dt  # pivpy's name for the frame interval
    if units.metric:
        attributes["metres_per_pixel"] = units.length
    return attributes
