"""Queue messages: frozen, versioned, references not pixels."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from pivfleet.spec import PivSettings
from pivfleet.tiling import Tile

MESSAGE_SCHEMA_VERSION = 1  # the Literal[1] fields below must change with it


class TileJob(BaseModel):
    """Process one tile of one pair."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    schema_version: Literal[1] = 1
    kind: Literal["tile_job"] = "tile_job"
    run: str
    pair: str
    frame_a: str
    frame_b: str
    image_shape: tuple[int, int]
    tile: Tile
    tile_count: int
    algorithm: str
    piv: PivSettings
    parameters: dict[str, Any] = Field(default_factory=dict)


class TileResult(BaseModel):
    """What became of one tile: where its vectors are, or why there are none."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    schema_version: Literal[1] = 1
    kind: Literal["tile_result"] = "tile_result"
    run: str
    pair: str
    tile: int
    tile_count: int
    status: Literal["done", "failed"]
    key: str | None = None
    """The blob holding the tile's vectors when done."""
    error: str | None = None
    seconds: float = 0.0


AnyMessage = Annotated[TileJob | TileResult, Field(discriminator="kind")]
MESSAGE_ADAPTER: TypeAdapter[TileJob | TileResult] = TypeAdapter(AnyMessage)


def parse_message(body: str) -> TileJob | TileResult:
    """Validate a queue body; raises pydantic.ValidationError for a poison pill."""
    return MESSAGE_ADAPTER.validate_json(body)
