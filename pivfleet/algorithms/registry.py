"""The algorithm contract and registry: a tile pair in, vectors on the tile's final-pass grid out.

Algorithms register under the entry-point group `pivfleet.algorithms`; the built-in windef does
so through pyproject.toml exactly as a user's plugin would. A wrapped executable registers by
its algorithm spec: an entry point calls `use_specs` with the folder its configuration names
(PIVFLEET_ALGORITHM_SPECS), before any algorithm is loaded, in every process that loads one.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol

from pivfleet.algorithms.executable import ExecutableAlgorithm
from pivfleet.core.algorithm_spec import AlgorithmSpec, read_spec, spec_files
from pivfleet.core.errors import AlgorithmError, SettingsError
from pivfleet.core.imaging import Frame
from pivfleet.core.spec import PivSettings
from pivfleet.core.tiling import TileMode
from pivfleet.core.vectors import Vectors

ENTRY_POINT_GROUP = "pivfleet.algorithms"
_specs: dict[str, tuple[AlgorithmSpec, str]] = {}
"""Wrapped executables by name, with the file each came from (`use_specs`)."""


class Algorithm(Protocol):
    """What every algorithm implements. `process` raises ValueError for bad parameters.

    An algorithm's optional `tiles` says how its pairs may be cut (`core/tiling.py:TileMode`):
    `"passes"` is pivfleet's own multi-pass engine, whose passes are split, each pass on tiles
    and its global steps on the whole grid (`engine/rounds.py`); `"whole"` a program that needs
    the whole frames; anything else is a black box run on crops with a halo (`"halo"`)."""

    name: str

    def process(
        self, frame_a: Frame, frame_b: Frame, piv: PivSettings, parameters: dict[str, Any]
    ) -> Vectors: ...


def available_algorithms() -> list[str]:
    return sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)} | set(_specs))


def use_specs(folder: Path | None) -> list[str]:
    """Register every algorithm spec in `folder` (none when None) and return their names. A
    spec whose name an installed plugin, or another spec, already has is refused."""
    if folder is None:
        return []
    installed = {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}
    names = []
    for path in spec_files(folder):
        spec = read_spec(path)
        known = _specs.get(spec.name)
        if spec.name in installed or (known and known[1] != str(path)):
            raise SettingsError(
                f"{path}: id {spec.name!r} is already an algorithm "
                f"({known[1] if known else 'an installed plugin'}): give the spec another id"
            )
        _specs[spec.name] = (spec, str(path))
        names.append(spec.name)
    return names


def check_parameters(name: str, parameters: dict[str, Any]) -> None:
    """SettingsError when the algorithm installed here as `name` refuses `parameters` (an
    algorithm's optional `check_parameters`); one not installed here is checked where it runs."""
    if name not in available_algorithms():
        return
    check = getattr(load_algorithm(name), "check_parameters", None)
    if check is None:
        return
    try:
        check(parameters)
    except ValueError as error:
        raise SettingsError(f"algorithm_parameters (--param): {error}") from None


def tile_mode(name: str) -> TileMode:
    """How `name`'s pairs may be cut; `"halo"` when it is not installed here (its workers then
    get whole pairs or halo tiles, which every black box can run)."""
    try:
        algorithm = load_algorithm(name)
    except AlgorithmError:
        return "halo"
    declared = getattr(algorithm, "tiles", "halo")
    modes: tuple[TileMode, ...] = ("passes", "whole")
    return next((mode for mode in modes if mode == declared), "halo")


@cache
def load_algorithm(name: str) -> Algorithm:
    """Instantiate the algorithm registered as `name`, or say which ones exist."""
    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if not found and name in _specs:
        return ExecutableAlgorithm(*_specs[name])
    if not found:
        raise AlgorithmError(
            f"unknown algorithm {name!r}; installed: {', '.join(available_algorithms())}. "
            f"Install a plugin that registers it under the {ENTRY_POINT_GROUP!r} entry points, "
            "or put its algorithm spec in the folder PIVFLEET_ALGORITHM_SPECS names."
        )
    algorithm: Algorithm = found[0].load()()
    return algorithm
