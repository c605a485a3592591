"""The algorithm contract and registry: a tile pair in, vectors on the tile's final-pass grid out.

Algorithms register under the entry-point group `pivfleet.algorithms`; the built-in windef does
so through pyproject.toml exactly as a user's plugin would.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points
from typing import Any, Protocol

from pivfleet.core.errors import AlgorithmError
from pivfleet.core.imaging import Frame
from pivfleet.core.spec import PivSettings
from pivfleet.core.vectors import Vectors

ENTRY_POINT_GROUP = "pivfleet.algorithms"


class Algorithm(Protocol):
    """What every algorithm implements. `process` raises ValueError for bad parameters."""

    name: str

    def process(
        self, frame_a: Frame, frame_b: Frame, piv: PivSettings, parameters: dict[str, Any]
    ) -> Vectors: ...


def available_algorithms() -> list[str]:
    return sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


@cache
def load_algorithm(name: str) -> Algorithm:
    """Instantiate the algorithm registered as `name`, or say which ones exist."""
    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if not found:
        raise AlgorithmError(
            f"unknown algorithm {name!r}; installed: {', '.join(available_algorithms())}. "
            f"Install a plugin that registers it under the {ENTRY_POINT_GROUP!r} entry points."
        )
    algorithm: Algorithm = found[0].load()()
    return algorithm
