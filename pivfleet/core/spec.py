"""The run specification (`run.json`): PIV settings, pairing, tiling and outputs.

One pydantic model serves the CLI's `pivfleet run`, `pivfleet submit` and the dispatcher,
so a setting means the same thing on a laptop and in the cloud.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pivfleet.core.calibration import Calibration
from pivfleet.core.cost import Prices
from pivfleet.core.keys import WORK_PREFIX
from pivfleet.core.topology import ALGORITHM_SPECS_PREFIX

SCHEMA_VERSION = 1
RUN_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
MIN_WINDOW_PIXELS = 8
MAX_FRAME_PIXELS_DEFAULT = 50_000_000
"""Pixels per frame: a 47-Mpx (8192 × 5760) camera fits. Tiled, a worker needs about 40 bytes
per frame pixel (bench/memory.py), so 50 Mpx fits the default 4 GiB worker; one whole-frame
tile needs about 320 with the reference engine."""
STENCIL_PIXELS = 12
"""Margin for image interpolation: the cubic spline prefilter's influence decays by 0.27 per
pixel, so 12 px leave an edge under 1e-6 of a grey level's effect on a deformed window."""
SPLINE_MIN_POINTS = 4
"""A cubic spline (OpenPIV's predictor between passes) needs four points per axis."""

SubpixelMethod = Literal["gaussian", "centroid", "parabolic"]
Sig2NoiseMethod = Literal["peak2peak", "peak2mean"]


class PivSettings(BaseModel):
    """OpenPIV windef settings, with OpenPIV's defaults for a 64/32/16 three-pass run."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    engine: Literal["openpiv", "fast"] = "openpiv"
    """Who computes each pass: OpenPIV's own functions (the reference), or pivfleet's fast
    kernel (single-precision batched FFTs; compiled deformation, peaks, median test and
    replacement) with the same settings meaning the same (`engine/backends.py`)."""
    windows: tuple[int, ...] = (64, 32, 16)
    overlaps: tuple[int, ...] = (32, 16, 8)
    subpixel_method: SubpixelMethod = "gaussian"
    correlation_method: Literal["circular", "linear"] = "circular"
    normalized_correlation: bool = False
    deformation_method: Literal["symmetric", "second image"] = "symmetric"
    interpolation_order: Annotated[int, Field(ge=1, le=5)] = 3
    sig2noise_method: Sig2NoiseMethod | None = "peak2mean"
    sig2noise_mask: Annotated[int, Field(ge=1)] = 2
    sig2noise_validate: bool = True
    sig2noise_threshold: Annotated[float, Field(ge=0)] = 1.0
    validation_first_pass: bool = True
    min_max_u_disp: tuple[float, float] = (-30.0, 30.0)
    min_max_v_disp: tuple[float, float] = (-30.0, 30.0)
    std_threshold: Annotated[float, Field(gt=0)] | None = 10.0
    """OpenPIV's global std test: vectors beyond this many standard deviations of the whole
    field are outliers (None: off). Tiles see the whole field's statistics, since each pass is
    validated on the assembled grid."""
    median_threshold: Annotated[float, Field(gt=0)] = 3.0
    median_size: Annotated[int, Field(ge=1)] = 1
    median_normalized: bool = False
    """Westerweel & Scarano's normalised median test instead of the plain one: the residual
    from the neighbours' median over their median residual plus `median_epsilon` must stay
    under `median_threshold` (W&S recommend 2; the plain test's default 3 is in pixels)."""
    median_epsilon: Annotated[float, Field(gt=0)] = 0.1
    """Pixels: the normalised median test's noise floor ε (W&S: ~0.1 px, the correlation's
    random error), so that a uniform region's tiny residuals are not amplified."""
    replace_vectors: bool = True
    filter_method: Literal["localmean", "disk", "distance"] = "localmean"
    max_filter_iteration: Annotated[int, Field(ge=1)] = 4
    filter_kernel_size: Annotated[int, Field(ge=1)] = 2
    first_pass_max_filter_iteration: Annotated[int, Field(ge=1)] = 5
    first_pass_filter_kernel_size: Annotated[int, Field(ge=1)] = 1
    """OpenPIV's `simple_multipass` fills first-pass outliers with these, not the later ones."""

    @model_validator(mode="after")
    def _check_schedule(self) -> PivSettings:
        check_window_schedule(self.windows, self.overlaps)
        for name in ("min_max_u_disp", "min_max_v_disp"):
            low, high = getattr(self, name)
            if low >= high:
                raise ValueError(f"{name}: the minimum {low} must be below the maximum {high}")
        return self

    @property
    def steps(self) -> tuple[int, ...]:
        """Grid spacing of each pass in pixels (window minus overlap)."""
        return tuple(w - o for w, o in zip(self.windows, self.overlaps, strict=True))

    @property
    def grid_alignment(self) -> int:
        """A tile origin on a multiple of this lands on every pass's global grid."""
        return math.lcm(*self.steps)

    @property
    def min_frame_pixels(self) -> int:
        """The smallest frame side these passes can process. Window deformation interpolates
        with splines, which need more grid points per axis than their order: each pass's
        vectors predict the next one's with cubic splines, and each later pass deforms the
        images with splines of `interpolation_order` on its own grid."""
        passes = list(zip(self.windows, self.steps, strict=True))
        if len(passes) == 1:
            return self.windows[0]
        predictors = [w + (SPLINE_MIN_POINTS - 1) * s for w, s in passes[:-1]]
        deformations = [w + self.interpolation_order * s for w, s in passes[1:]]
        return max(predictors + deformations)

    @property
    def min_tile_pixels(self) -> int:
        """The smallest sensible tile: one first-pass window, plus the interpolation margin
        on each side that later passes read around it."""
        return self.windows[0] + 2 * STENCIL_PIXELS

    @property
    def max_displacement(self) -> float:
        """The largest displacement validation lets through, in pixels."""
        return max(abs(v) for v in (*self.min_max_u_disp, *self.min_max_v_disp))


def check_window_schedule(windows: tuple[int, ...], overlaps: tuple[int, ...]) -> None:
    """Raise ValueError naming the pass when windows do not shrink or overlaps are too big."""
    if not windows:
        raise ValueError("windows: give at least one window size, e.g. 64,32,16")
    if len(windows) != len(overlaps):
        raise ValueError(
            f"windows has {len(windows)} passes but overlaps has {len(overlaps)}: "
            "give one overlap per window, e.g. --windows 64,32,16 --overlap 32,16,8"
        )
    for i, (window, overlap) in enumerate(zip(windows, overlaps, strict=True)):
        if window < MIN_WINDOW_PIXELS:
            raise ValueError(f"windows[{i}]={window}: windows must be ≥ {MIN_WINDOW_PIXELS} px")
        if not 0 <= overlap < window:
            raise ValueError(
                f"overlaps[{i}]={overlap} must be ≥ 0 and smaller than windows[{i}]={window}; "
                f"half the window ({window // 2}) is the usual choice"
            )
    for i in range(1, len(windows)):
        if windows[i] > windows[i - 1]:
            raise ValueError(
                f"windows must not grow from pass to pass: pass {i} has {windows[i]} px "
                f"after {windows[i - 1]} px; order them largest first, e.g. 64,32,16"
            )


class Pairing(BaseModel):
    """How frames in a folder become pairs.

    `suffix`: `<name>_a.ext`/`<name>_b.ext` or `<name>A.ext`/`<name>B.ext`.
    `sequential`: sorted frames 1-2, 3-4, …; `cascade`: 1-2, 2-3, ….
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: Literal["suffix", "sequential", "cascade"] = "suffix"


TilingChoice = Literal["auto", "none"] | Annotated[int, Field(ge=32)]
ALGORITHM_NAME_PATTERN = r"[a-z0-9][a-z0-9-]{0,40}"
"""An algorithm's name: it names the algorithm's queue, `<prefix>-jobs-<name>`."""
MAX_STEPS = 8


RESERVED_RUN_IDS = {
    WORK_PREFIX: "the runs' work",
    ALGORITHM_SPECS_PREFIX.rstrip("/"): "the wrapped algorithms' specs `pivfleet bootstrap` stores",
}
"""The output bucket's own folders: a run's outputs go to `<run>/` there, and dispatching it
deletes what that folder held before, so no run may be named like one."""


def check_run_id(value: str) -> str:
    if value in RESERVED_RUN_IDS:
        raise ValueError(
            f"{value!r} is reserved: the output bucket's `{value}/` holds "
            f"{RESERVED_RUN_IDS[value]}, which this run's outputs would overwrite and its "
            "dispatch delete; choose another run name (run.json's `run`, --run)"
        )
    return value


def check_algorithm_name(value: str) -> str:
    if not re.fullmatch(ALGORITHM_NAME_PATTERN, value):
        raise ValueError(
            f"algorithm {value!r}: use lowercase letters, digits and '-' (it names a queue)"
        )
    return value


class ImageStep(BaseModel):
    """An image step run on each pair before the PIV `algorithm`: both frames in, both frames
    out, the same size (background subtraction, contrast normalisation…). Each step's
    outputs are the next step's inputs; its jobs go to its algorithm's own queue."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    algorithm: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    """The step algorithm's parameters, as `algorithm_parameters` are the PIV algorithm's."""

    _check_name = field_validator("algorithm")(check_algorithm_name)


class Outputs(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    text: bool = True
    """`<pair>.txt`: OpenPIV's columns, as `openpiv.tools.save` writes them."""
    netcdf: bool = True
    """`<pair>.nc`: CF-1.10 NetCDF4 with pixel and calibrated values."""
    dataset: bool = True
    """`run.nc`: every pair's field along time in one NetCDF4 file, written when the run
    finishes from the pairs' `.nc` (so it needs `netcdf`)."""
    plot: bool = False
    """`<pair>.png`, a quiver over the speed's colour map, and `run.png`, the run's mean."""

    @model_validator(mode="before")
    @classmethod
    def _no_pairs_no_dataset(cls, data: Any) -> Any:
        """Without the pairs' NetCDF files there is nothing to assemble, unless asked for."""
        if isinstance(data, dict) and data.get("netcdf") is False and "dataset" not in data:
            return {**data, "dataset": False}
        return data

    @model_validator(mode="after")
    def _dataset_from_pairs(self) -> Outputs:
        if self.dataset and not self.netcdf:
            raise ValueError(
                "dataset: the run dataset is assembled from the pairs' NetCDF files; set "
                "netcdf to true, or dataset to false"
            )
        return self


class RunSpec(BaseModel):
    """`run.json`: everything needed to process a run, and nothing that is pixels."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1
    kind: Literal["run_spec"] = "run_spec"
    run: Annotated[str, Field(pattern=RUN_ID_PATTERN)]
    algorithm: str = "windef"
    piv: PivSettings = PivSettings()
    algorithm_parameters: dict[str, Any] = Field(default_factory=dict)
    steps: Annotated[list[ImageStep], Field(max_length=MAX_STEPS)] = Field(default_factory=list)
    """Image steps run on each pair, in order, before `algorithm`; a failed step fails only
    its pair."""
    pairing: Pairing = Pairing()
    tiling: TilingChoice = "auto"
    workers: Annotated[int, Field(ge=1, le=100_000)] = 16
    """Workers the run expects; `tiling: auto` tiles pairs when they are fewer than 2× this."""
    outputs: Outputs = Outputs()
    calibration: Calibration = Calibration()
    """Pixels and frames to metres and seconds; outputs stay in pixels without it."""
    max_frame_pixels: Annotated[int, Field(ge=1)] = MAX_FRAME_PIXELS_DEFAULT
    """Frames above this many pixels are refused from their header, before decoding."""
    frames: Annotated[int, Field(ge=1)] | None = None
    """Frames the run expects (`pivfleet submit` counts them): the dispatcher plans as soon as
    they are all uploaded. Without it, it waits until the run's folder stops changing."""
    prices: Prices = Prices()
    """AWS prices the summary's cost estimate uses (`core/cost.py`; 2025 us-east-1 list prices
    by default, the worker time all on Fargate Spot)."""

    @model_validator(mode="after")
    def _check_tile_size(self) -> RunSpec:
        least = self.piv.min_tile_pixels
        if isinstance(self.tiling, int) and self.tiling < least:
            windows = ",".join(map(str, self.piv.windows))
            raise ValueError(
                f"tiling: {self.tiling} px tiles are too small for windows {windows}: the "
                f"smallest is {least} px (one {self.piv.windows[0]} px window plus the "
                f"{STENCIL_PIXELS} px interpolation margin each side); use --tiling {least} "
                "or more, auto or none"
            )
        return self

    _check_algorithm_name = field_validator("algorithm")(check_algorithm_name)
    _check_run_id = field_validator("run")(check_run_id)

    @property
    def algorithms(self) -> list[str]:
        """Every algorithm the run's jobs go to: its steps', then the PIV algorithm."""
        return list(dict.fromkeys([*(step.algorithm for step in self.steps), self.algorithm]))


def describe_validation(error: ValidationError, names: Mapping[str, str] | None = None) -> str:
    """A pydantic ValidationError as `field: message; …`, naming each bad setting (as `names`
    calls it, e.g. by its command-line flag)."""
    parts = []
    for item in error.errors(include_url=False):
        loc = [str(p) for p in item["loc"]]
        if loc and names and loc[0] in names:
            loc = [names[loc[0]]]
        message = item["msg"].removeprefix("Value error, ")
        parts.append(f"{'.'.join(loc)}: {message}" if loc else message)
    return "; ".join(dict.fromkeys(parts))
