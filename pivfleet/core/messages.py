"""Queue messages: frozen, versioned, references not pixels."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from pivfleet.core.cost import Usage
from pivfleet.core.errors import PoisonMessageError
from pivfleet.core.keys import GENERATION_PATTERN
from pivfleet.core.ports import JobSender
from pivfleet.core.spec import MAX_FRAME_PIXELS_DEFAULT, PivSettings
from pivfleet.core.tiling import Box, Tile

MESSAGE_SCHEMA_VERSION = 4  # the Literal[4] fields below must change with it


class TileMessage(BaseModel):
    """What every message about a tile carries: its version, run and pair."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    schema_version: Literal[4] = 4
    run: str
    generation: Annotated[str, Field(pattern=GENERATION_PATTERN)]
    """The submission this message belongs to (see `core/keys.py`)."""
    pair: str
    pass_index: int | None = None
    """None: every pass runs in one job (a whole pair, or a halo tile of an algorithm that is a
    black box); k: pass k of a pass-synchronous pair, whose core is a block of pass k's grid."""
    step: int | None = None
    """k: the job is the pair's image step k (`RunSpec.steps`): whole frames in and out."""


class TileJob(TileMessage):
    """Process one tile of one pair."""

    kind: Literal["tile_job"] = "tile_job"
    frame_a: str
    frame_b: str
    image_shape: tuple[int, int]
    tile: Tile
    tile_count: int
    """Jobs of this pair (of this pass, for a pass-synchronous job)."""
    algorithm: str
    piv: PivSettings
    parameters: dict[str, Any] = Field(default_factory=dict)
    max_frame_pixels: int = MAX_FRAME_PIXELS_DEFAULT
    """The run's limit, checked again on the header when the worker reads each frame."""
    frames_from_step: int | None = None
    """k: the job reads the frames image step k wrote (in strips, in the work store) instead
    of `frame_a` and `frame_b`."""


class TileResult(TileMessage):
    """What became of one tile: where its vectors are, or why there are none."""

    kind: Literal["tile_result"] = "tile_result"
    tile: int
    tile_count: int
    core: Box
    """The tile's block of its pass's grid (the final grid when `pass_index` is None): the
    collector places it without re-planning."""
    pixels_read: int = 0
    """Pixels of the crop the job processed, per frame (the plan's work factor adds them up)."""
    status: Literal["done", "failed"]
    key: str | None = None
    """The blob holding the tile's vectors when done."""
    error: str | None = None
    seconds: float = 0.0
    bytes_read: int = 0
    """Frame bytes the worker fetched for this tile (0 when its cache had the pair)."""
    usage: Usage = Usage()
    """The job's time held, requests and bytes (`core/cost.py`): its reads and writes, its
    receive, heartbeats and this result's send; its acknowledgement comes after the result,
    so it is counted with the worker's next one."""


def send_jobs(send: JobSender, jobs: list[TileJob]) -> None:
    """Send `jobs` to their algorithms' queues (a run with image steps has several)."""
    by_algorithm: dict[str, list[str]] = {}
    for job in jobs:
        by_algorithm.setdefault(job.algorithm, []).append(job.model_dump_json())
    for algorithm, bodies in by_algorithm.items():
        send(algorithm, bodies)


AnyMessage = Annotated[TileJob | TileResult, Field(discriminator="kind")]
MessageT = TypeVar("MessageT", TileJob, TileResult)
MESSAGE_ADAPTER: TypeAdapter[TileJob | TileResult] = TypeAdapter(AnyMessage)


def parse_message(body: str, kind: type[MessageT]) -> MessageT:
    """The `kind` message in a queue body, or PoisonMessageError saying why it can never be."""
    try:
        message = MESSAGE_ADAPTER.validate_json(body)
    except ValidationError as error:
        raise PoisonMessageError(
            f"invalid message: {error.errors(include_url=False)[:3]}"
        ) from None
    if not isinstance(message, kind):
        raise PoisonMessageError(
            f"expected a {kind.model_fields['kind'].default}, got {message.kind}"
        )
    return message
