"""From pixels and frames to metres and seconds: a run's calibration, and the units it gives.

Without a calibration, positions are in pixels and velocities in pixels per frame pair, as
OpenPIV's windef returns them. `dt` makes velocities per second, a pixel size makes lengths
metres; both together give OpenPIV's scaled output (`u / dt`, then `scaling.uniform`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, model_validator

Positive = Annotated[float, Field(gt=0)]
PAIR_STEPS = {"cascade": 1, "sequential": 2}
"""Frames from one pair's frame A to the next's: the pairing modes with evenly spaced frames."""


class Calibration(BaseModel):
    """`run.json`'s `calibration`: the physical scale and timing of the recording."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    dt: Positive | None = None
    """Seconds between frame A and frame B of a pair: velocities become per second."""
    pixel_size: Positive | None = None
    """Metres per pixel in the object plane: positions and velocities become metres."""
    scaling_factor: Positive | None = None
    """Pixels per metre, OpenPIV's `scaling_factor` (1 / `pixel_size`): give one of the two."""
    origin: tuple[float, float] = (0.0, 0.0)
    """Pixels, in the outputs' pixel coordinates (x right, y up): the point that becomes
    x = y = 0 m (with a pixel size; pixel outputs keep OpenPIV's coordinates)."""
    pair_interval: Positive | None = None
    """Seconds from one pair's frame A to the next's: the run dataset's time axis. Without it,
    `dt` for cascade pairing (1-2, 2-3) and 2 × `dt` for sequential (1-2, 3-4); suffix pairs
    (double-frame cameras) have no time axis in seconds unless it is given."""
    start_time: datetime | None = None
    """When the first pair's frame A was taken (ISO 8601): times become CF's `seconds since`
    it instead of seconds from the first pair."""

    @model_validator(mode="after")
    def _one_scale(self) -> Calibration:
        if self.pixel_size is not None and self.scaling_factor is not None:
            raise ValueError(
                "give pixel_size (metres per pixel) or scaling_factor (pixels per metre), not both"
            )
        return self

    @property
    def metres_per_pixel(self) -> float | None:
        if self.scaling_factor is not None:
            return 1.0 / self.scaling_factor
        return self.pixel_size

    def seconds_between_pairs(self, pairing: str) -> float | None:
        if self.pair_interval is not None:
            return self.pair_interval
        if self.dt is None or pairing not in PAIR_STEPS:
            return None
        return self.dt * PAIR_STEPS[pairing]


@dataclass(frozen=True)
class Units:
    """The outputs' units: the length of one pixel and the time of one frame pair in them."""

    length: float
    """Output length units per pixel: metres per pixel, or 1."""
    time: float
    """Output time units per frame pair: `dt` seconds, or 1."""
    origin: tuple[float, float]
    metric: bool
    timed: bool

    @property
    def length_name(self) -> str:
        return "m" if self.metric else "pixel"

    @property
    def velocity_name(self) -> str:
        return f"{self.length_name}/{'s' if self.timed else 'frame'}"

    @property
    def calibrated(self) -> bool:
        return self.metric or self.timed

    @property
    def speed(self) -> float:
        """Output velocity units per pixel per frame pair."""
        return self.length / self.time

    def position(self, pixels: npt.NDArray[np.float64], axis: int) -> npt.NDArray[np.float64]:
        """Pixel coordinates along `axis` (0: x, 1: y) in output units, from the origin."""
        return (pixels - self.origin[axis]) * self.length


def output_units(calibration: Calibration) -> Units:
    metres = calibration.metres_per_pixel
    return Units(
        length=metres or 1.0,
        time=calibration.dt or 1.0,
        origin=calibration.origin if metres is not None else (0.0, 0.0),
        metric=metres is not None,
        timed=calibration.dt is not None,
    )
