"""Planning a run: pair the frames, check each pair, cut it into tile jobs."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from pivfleet.core.errors import PairError, PivfleetError
from pivfleet.core.imaging import FrameHeader, Pixels, check_header
from pivfleet.core.keys import RUN_OUTPUT_STEM
from pivfleet.core.messages import TileJob
from pivfleet.core.pairing import FramePair, pair_frames
from pivfleet.core.spec import RunSpec
from pivfleet.core.summary import PairStatus
from pivfleet.core.tiling import (
    Tile,
    TileMode,
    choose_tile_pixels,
    grid_shape,
    plan_pass_tiles,
    plan_tiles,
)

HeaderReader = Callable[[str], FrameHeader]
FrameDecoder = Callable[[str], Pixels]


@dataclass(frozen=True)
class RunInput:
    """The frames a run reads: their keys, how to read one's header or pixels, and the run's
    folder in the store. Planning reads headers only."""

    names: list[str]
    read: HeaderReader
    decode: FrameDecoder
    """A frame's pixels: the dispatcher copies pass-synchronous pairs' frames into strips."""
    key_prefix: str = ""
    """Dropped from pair names: `<run>/` in the input bucket, nothing locally."""


class PairPlan(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    frame_a: str
    frame_b: str
    image_shape: tuple[int, int] = (0, 0)
    grid_shape: tuple[int, int] = (0, 0)
    tile_count: int = 0
    tile_pixels: int | None = None
    """Tile size the plan cut this pair with (None: one whole-pair tile)."""
    pass_tiles: tuple[int, ...] = ()
    """Jobs of each pass when the pair runs pass-synchronously (every pass on tiles, its global
    steps on the whole grid); empty when each job runs every pass."""
    error: str | None = None

    @property
    def synchronous(self) -> bool:
        return bool(self.pass_tiles)


class RunPlan(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    spec: RunSpec
    generation: str
    pairs: list[PairPlan] = Field(default_factory=list)
    created_at: float = Field(default_factory=time.time)
    min_halo_pixels: int = 0
    """The algorithm's own halo (a spec's `haloPixels`): halo tiles' crops reach at least this
    far beyond their cores' windows."""

    @functools.cached_property
    def pair_positions(self) -> dict[str, int]:
        """Each pair's position by name (a collector looks up the pair of every result). Not a
        field, so plans compare and serialise without it; a copy starts with its original's
        (`position` makes its own when it does not fit)."""
        return {p.name: i for i, p in enumerate(self.pairs)}

    def pair(self, name: str) -> PairPlan:
        return self.pairs[self.position(name)]

    def position(self, name: str) -> int:
        """Where pair `name` is in `pairs` (KeyError if it is not): found in the index, made
        again when it does not hold `name` there (a copy with other pairs shares it)."""
        at = self.pair_positions.get(name)
        if at is None or at >= len(self.pairs) or self.pairs[at].name != name:
            del self.__dict__["pair_positions"]  # a copy's, or a pair it lacks: made anew
            at = self.pair_positions[name]
        return at

    def failed_statuses(self) -> list[PairStatus]:
        return [
            PairStatus(pair=p.name, status="failed", errors=[p.error])
            for p in self.pairs
            if p.error
        ]


def check_pair(pair: FramePair, read: HeaderReader, spec: RunSpec) -> tuple[int, int]:
    """The pair's image shape, or PairError/ImageReadError saying what is wrong."""
    if pair.name.rsplit("/", 1)[-1] == RUN_OUTPUT_STEM:
        raise PairError(
            f"{pair.frame_a}: a pair named {RUN_OUTPUT_STEM!r} would overwrite the run's own "
            f"outputs ({RUN_OUTPUT_STEM}.nc, {RUN_OUTPUT_STEM}.png); rename its frames"
        )
    header_a, header_b = read(pair.frame_a), read(pair.frame_b)
    check_header(header_a, pair.frame_a, spec.max_frame_pixels)
    check_header(header_b, pair.frame_b, spec.max_frame_pixels)
    shape_a, shape_b = (header_a.height, header_a.width), (header_b.height, header_b.width)
    if shape_a != shape_b:
        raise PairError(
            f"{pair.frame_a} is {shape_a[1]}×{shape_a[0]} px but {pair.frame_b} is "
            f"{shape_b[1]}×{shape_b[0]} px: frames of a pair must have the same size"
        )
    piv, least = spec.piv, spec.piv.min_frame_pixels
    if min(shape_a) < least:
        passes = f"--windows {','.join(map(str, piv.windows))}"
        if len(piv.windows) > 1:
            passes += f" --overlap {','.join(map(str, piv.overlaps))} (window deformation)"
        raise PairError(
            f"{pair.frame_a} is {shape_a[1]}×{shape_a[0]} px; {passes} needs frames of at "
            f"least {least}×{least} px: use smaller --windows or larger images"
        )
    return shape_a


def plan_pair(pair: FramePair, read: HeaderReader, spec: RunSpec, key_prefix: str) -> PairPlan:
    """Check one pair; its name drops `key_prefix` (the run's folder in the input bucket)."""
    plan = PairPlan(
        name=pair.name.removeprefix(key_prefix), frame_a=pair.frame_a, frame_b=pair.frame_b
    )
    try:
        shape = check_pair(pair, read, spec)
    except PivfleetError as error:
        return plan.model_copy(update={"error": str(error)})
    grid = grid_shape(shape, spec.piv.windows[-1], spec.piv.steps[-1])
    return plan.model_copy(update={"image_shape": shape, "grid_shape": grid})


def plan_run(
    spec: RunSpec, frames: RunInput, generation: str, mode: TileMode = "halo",
    min_halo_pixels: int = 0,
) -> RunPlan:  # fmt: skip
    """Pair, check and size every pair's tiles; a bad pair is recorded as failed, not raised.
    `mode`: how the algorithm's pairs may be cut (`core/tiling.py:TileMode`); `min_halo_pixels`
    the halo it declares for its halo tiles."""
    found = pair_frames(frames.names, spec.pairing)
    pairs = [plan_pair(p, frames.read, spec, frames.key_prefix) for p in found]
    good = sum(p.error is None for p in pairs)
    return RunPlan(
        spec=spec,
        generation=generation,
        pairs=[size_tiles(pair, spec, good, mode) for pair in pairs],
        min_halo_pixels=min_halo_pixels,
    )


def size_tiles(pair: PairPlan, spec: RunSpec, pairs: int, mode: TileMode) -> PairPlan:
    """The pair cut for `pairs` good pairs on the run's workers: whole, halo or pass tiles."""
    if pair.error is not None:
        return pair
    shape, piv = pair.image_shape, spec.piv
    synchronous = mode == "passes"
    tiling = "none" if mode == "whole" else spec.tiling
    pixels = choose_tile_pixels(tiling, shape, pairs, spec.workers, synchronous)
    if pixels is None or not synchronous:
        count = len(plan_tiles(shape, piv, pixels))
        return pair.model_copy(update={"tile_count": count, "tile_pixels": pixels})
    counts = tuple(len(plan_pass_tiles(shape, piv, k, pixels, 0)) for k in range(len(piv.windows)))
    return pair.model_copy(
        update={"tile_count": sum(counts), "tile_pixels": pixels, "pass_tiles": counts}
    )


def plan_jobs(plan: RunPlan) -> list[TileJob]:
    """The plan's first jobs (each pair's first image step, or its PIV jobs: pass 0 of a
    pass-synchronous pair): rebuilt from the plan alone, the same every time (no frame
    reads), so a dispatcher that finds a stored plan can send its jobs again."""
    jobs: list[TileJob] = []
    for pair in plan.pairs:
        if pair.error is None:
            jobs += plan_step_jobs(plan, pair, 0)
    return jobs


def plan_step_jobs(plan: RunPlan, pair: PairPlan, step: int) -> list[TileJob]:
    """The jobs of the pair's image step `step`; the PIV jobs after the last step."""
    if step == len(plan.spec.steps):
        return plan_piv_jobs(plan, pair)
    [whole] = plan_tiles(pair.image_shape, plan.spec.piv, None)
    job = make_job(plan, pair, whole, 1).model_copy(
        update={
            "step": step,
            "algorithm": plan.spec.steps[step].algorithm,
            "parameters": plan.spec.steps[step].parameters,
            "frames_from_step": step - 1 if step else None,
        }
    )
    return [job]


def plan_piv_jobs(plan: RunPlan, pair: PairPlan) -> list[TileJob]:
    """The pair's first PIV jobs: every tile, or pass 0's of a pass-synchronous pair."""
    if pair.synchronous:
        return plan_pass_jobs(plan, pair, 0, reach_px=0)
    tiles = plan_tiles(pair.image_shape, plan.spec.piv, pair.tile_pixels, plan.min_halo_pixels)
    return [make_job(plan, pair, tile, len(tiles)) for tile in tiles]


def plan_pass_jobs(plan: RunPlan, pair: PairPlan, index: int, reach_px: int) -> list[TileJob]:
    """Pass `index`'s jobs of a pass-synchronous pair, crops reaching `reach_px` beyond their
    windows (`core/tiling.py:pass_reach_pixels` of the predictor's largest displacement)."""
    assert pair.tile_pixels is not None
    tiles = plan_pass_tiles(pair.image_shape, plan.spec.piv, index, pair.tile_pixels, reach_px)
    return [make_job(plan, pair, tile, len(tiles), index) for tile in tiles]


def make_job(
    plan: RunPlan, pair: PairPlan, tile: Tile, tile_count: int, pass_index: int | None = None
) -> TileJob:
    spec = plan.spec
    return TileJob(
        run=spec.run,
        generation=plan.generation,
        pair=pair.name,
        pass_index=pass_index,
        frame_a=pair.frame_a,
        frame_b=pair.frame_b,
        image_shape=pair.image_shape,
        tile=tile,
        tile_count=tile_count,
        algorithm=spec.algorithm,
        piv=spec.piv,
        parameters=spec.algorithm_parameters,
        max_frame_pixels=spec.max_frame_pixels,
        frames_from_step=len(spec.steps) - 1 if spec.steps else None,
    )
