"""The built-in algorithm: multi-pass window deformation (`engine/`: OpenPIV's functions behind
pivfleet's per-pass kernel and global steps)."""

from __future__ import annotations

from typing import Any

from pivfleet.core.imaging import Pixels
from pivfleet.core.spec import PivSettings
from pivfleet.core.tiling import TileMode
from pivfleet.core.vectors import Vectors
from pivfleet.engine.reference import run_passes


class WindefAlgorithm:
    """Every pass of the user's settings on one crop."""

    name = "windef"
    tiles: TileMode = "passes"
    single_precision = True
    """Frames as decoded (`core/imaging.grey_levels`): the fast engine correlates in single
    precision; the reference engine takes them in double itself."""

    def check_parameters(self, parameters: dict[str, Any]) -> None:
        if parameters:
            raise ValueError(f"windef takes its settings from 'piv'; unknown {sorted(parameters)}")

    def process(
        self, frame_a: Pixels, frame_b: Pixels, piv: PivSettings, parameters: dict[str, Any]
    ) -> Vectors:
        self.check_parameters(parameters)
        return run_passes(frame_a, frame_b, piv)
