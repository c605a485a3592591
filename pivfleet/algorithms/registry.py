"""The algorithm contract and registry: a tile pair in, vectors on the tile's final-pass grid out.

Algorithms register under the entry-point group `pivfleet.algorithms`; the built-in windef does
so through pyproject.toml exactly as a user's plugin would. A wrapped executable registers by
its algorithm spec: an entry point calls `use_specs` with the folder its configuration names
(PIVFLEET_ALGORITHM_SPECS), before any algorithm is loaded, in every process that loads one.
A dispatcher may also plan by specs stored in the deployment (`use_stored_specs`): it needs a
spec's tiling hints, never its program.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol, cast

from pivfleet.algorithms.executable import ExecutableAlgorithm
from pivfleet.algorithms.executable_step import ExecutableImageStep
from pivfleet.core.algorithm_spec import AlgorithmSpec, parse_spec, read_spec, spec_files
from pivfleet.core.errors import AlgorithmError, SettingsError
from pivfleet.core.imaging import Frame
from pivfleet.core.spec import PivSettings, RunSpec
from pivfleet.core.tiling import TileMode
from pivfleet.core.vectors import Vectors

ENTRY_POINT_GROUP = "pivfleet.algorithms"
_specs: dict[str, tuple[AlgorithmSpec, str]] = {}
"""Wrapped executables by name, with the file each came from (`use_specs`)."""
SpecReader = Callable[[str], tuple[str, str] | None]
"""An algorithm's name → its stored spec's text and where it was read, or None."""
_stored: list[SpecReader] = []


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


class ImageStep(Protocol):
    """What an image step implements (`run.json`'s `steps`): both frames in, both out, the
    same size, raw grey levels as floats. Raise ValueError for bad parameters."""

    name: str

    def process_images(
        self, frame_a: Frame, frame_b: Frame, parameters: dict[str, Any]
    ) -> tuple[Frame, Frame]: ...


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


def registered_specs() -> list[AlgorithmSpec]:
    """The specs `use_specs` registered (wrapped executables), by name."""
    return [_specs[name][0] for name in sorted(_specs)]


def check_parameters(
    name: str, parameters: dict[str, Any], where: str = "algorithm_parameters (--param)"
) -> None:
    """SettingsError when the algorithm `name`, installed here or stored in the deployment
    (`use_stored_specs`), refuses `parameters` (an algorithm's optional `check_parameters`);
    one known neither way is checked where it runs."""
    check = getattr(planned_algorithm(name), "check_parameters", None)
    if check is None:
        return
    try:
        check(parameters)
    except ValueError as error:
        raise SettingsError(f"{where}: {error}") from None


def makes_images(name: str) -> bool:
    """`name` is an image step (it has `process_images`), not a vector algorithm."""
    return callable(getattr(load_algorithm(name), "process_images", None))


def image_step(name: str) -> ImageStep:
    """The algorithm `name` as an image step, or AlgorithmError saying it makes vectors."""
    if not makes_images(name):
        raise AlgorithmError(
            f"{name!r} makes vectors, not images: it cannot be one of run.json's steps "
            "(an image step implements process_images, or its spec's outputs are frame_a "
            "and frame_b); name it as the run's algorithm instead"
        )
    return cast(ImageStep, load_algorithm(name))


def check_run(spec: RunSpec) -> None:
    """Refuse a run whose algorithms installed here do not fit their places: each step an
    image step, the run's algorithm one that makes vectors, every one's parameters
    acceptable (a stored spec's too). Those known nowhere here are checked where they run."""
    installed = available_algorithms()
    for index, step in enumerate(spec.steps):
        if step.algorithm in installed:
            image_step(step.algorithm)
        check_parameters(step.algorithm, step.parameters, f"steps[{index}].parameters (--step)")
    if spec.algorithm in installed and makes_images(spec.algorithm):
        raise AlgorithmError(
            f"algorithm {spec.algorithm!r} is an image step: list it under steps (--step), "
            "and name the PIV algorithm that follows it (e.g. windef) as the run's algorithm"
        )
    check_parameters(spec.algorithm, spec.algorithm_parameters)


def use_stored_specs(read: SpecReader | None) -> None:
    """Plan algorithms not installed here by the spec `read` finds (`pivfleet bootstrap`
    stores each spec in the deployment), so a `tiles: whole` program is never cut. None: stop."""
    _stored[:] = [] if read is None else [read]


def tile_mode(name: str) -> TileMode:
    """How `name`'s pairs may be cut; `"halo"` when it is not known here (its workers then
    get whole pairs or halo tiles, which every black box can run)."""
    declared = getattr(planned_algorithm(name), "tiles", "halo")
    modes: tuple[TileMode, ...] = ("passes", "whole")
    return next((mode for mode in modes if mode == declared), "halo")


def min_halo_pixels(name: str) -> int:
    """Pixels `name` declares it sees beyond a vector's window (a spec's `haloPixels`, or a
    plugin's `halo_pixels`): its halo tiles get at least this halo. 0 when it declares none."""
    return int(getattr(planned_algorithm(name), "halo_pixels", 0) or 0)


def planned_algorithm(name: str) -> object | None:
    """The algorithm installed as `name`, or the one its stored spec describes, or None."""
    try:
        return load_algorithm(name)
    except AlgorithmError:
        pass
    found = _stored[0](name) if _stored else None
    return None if found is None else ExecutableAlgorithm(parse_spec(*found), found[1])


@cache
def load_algorithm(name: str) -> Algorithm:
    """Instantiate the algorithm registered as `name`, or say which ones exist."""
    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if not found and name in _specs:
        spec, source = _specs[name]
        if spec.makes_images:
            return cast(Algorithm, ExecutableImageStep(spec, source))
        return ExecutableAlgorithm(spec, source)
    if not found:
        raise AlgorithmError(
            f"unknown algorithm {name!r}; installed: {', '.join(available_algorithms())}. "
            f"Install a plugin that registers it under the {ENTRY_POINT_GROUP!r} entry points, "
            "or put its algorithm spec in the folder PIVFLEET_ALGORITHM_SPECS names."
        )
    algorithm: Algorithm = found[0].load()()
    return algorithm
