"""Pairing frame names into (A, B) pairs: `*_a/*_b`, `*A/*B`, sequential or cascade.

Works on names only, so the dispatcher pairs S3 keys exactly as `pivfleet run` pairs files.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from pivfleet.core.errors import PairingError
from pivfleet.core.imaging import is_image_name
from pivfleet.core.spec import Pairing

SUFFIX_PATTERN = re.compile(r"^(?P<stem>.*?)(?P<sep>[_-]?)(?P<frame>[abAB])$")
NUMBER_PATTERN = re.compile(r"(\d+)")


@dataclass(frozen=True)
class FramePair:
    """Two frame names and the pair's output name."""

    name: str
    frame_a: str
    frame_b: str


def pair_frames(names: list[str], rule: Pairing) -> list[FramePair]:
    """Pair image names by `rule`; raise PairingError naming what is left unpaired."""
    images = sorted((n for n in names if is_image_name(n)), key=natural_key)
    if not images:
        raise PairingError(
            "no image files found (looked for .tif, .tiff, .png, .bmp, .jpg, .jpeg); "
            "check the input folder or prefix"
        )
    pairs = (
        pair_by_suffix(images)
        if rule.mode == "suffix"
        else pair_by_sequence(images, cascade=rule.mode == "cascade")
    )
    return refuse_shared_names(pairs)


def refuse_shared_names(pairs: list[FramePair]) -> list[FramePair]:
    """Two pairs named alike would write the same outputs: refuse rather than lose one."""
    seen: dict[str, FramePair] = {}
    for pair in pairs:
        other = seen.setdefault(pair.name, pair)
        if other is not pair:
            raise PairingError(
                f"{other.frame_a} and {pair.frame_a} both give pair name {pair.name!r}; "
                "rename one, or move it to another folder"
            )
    return pairs


def natural_key(name: str) -> list[object]:
    """Sort frame_2 before frame_10, as a person numbering frames would."""
    return [int(part) if part.isdigit() else part.lower() for part in NUMBER_PATTERN.split(name)]


def split_frame_letter(name: str) -> tuple[str, str] | None:
    """`run/x_a.tif` → (`run/x|.tif`, `a`), the key shared by both frames, and the letter."""
    path = PurePosixPath(name)
    match = SUFFIX_PATTERN.match(path.stem)
    if not match:
        return None
    key = str(path.with_name(match["stem"] + match["sep"] + "|" + path.suffix.lower()))
    return key, match["frame"].lower()


def pair_by_suffix(images: list[str]) -> list[FramePair]:
    groups: dict[str, dict[str, str]] = {}
    unmatched = []
    for name in images:
        split = split_frame_letter(name)
        if split is None:
            unmatched.append(name)
            continue
        groups.setdefault(split[0], {})[split[1]] = name
    pairs = [FramePair(pair_name(g["a"]), g["a"], g["b"]) for g in groups.values() if len(g) == 2]
    unmatched += [n for g in groups.values() if len(g) == 1 for n in g.values()]
    if unmatched:
        raise PairingError(
            f"{len(unmatched)} frame(s) without a partner: {', '.join(unmatched[:5])}. "
            "Frames pair as NAME_a/NAME_b or NAMEA/NAMEB; for numbered sequences use "
            "--pairing sequential (1-2, 3-4, …) or --pairing cascade (1-2, 2-3, …)."
        )
    return pairs


def pair_by_sequence(images: list[str], cascade: bool) -> list[FramePair]:
    if len(images) < 2:
        raise PairingError(f"only one frame ({images[0]}): a pair needs two frames")
    if cascade:
        return [FramePair(pair_name(a), a, b) for a, b in itertools.pairwise(images)]
    if len(images) % 2:
        raise PairingError(
            f"{len(images)} frames is an odd count for --pairing sequential: "
            f"{images[-1]} has no partner. Add its partner, remove it, or use --pairing cascade."
        )
    return [FramePair(pair_name(a), a, b) for a, b in zip(images[::2], images[1::2], strict=True)]


def pair_name(frame_a: str) -> str:
    """Output name of a pair: frame A's path without extension or A-suffix, `/` kept."""
    path = PurePosixPath(frame_a)
    stem = path.stem
    match = SUFFIX_PATTERN.match(stem)
    if match and match["frame"] in "aA" and match["stem"]:
        stem = match["stem"]
    return str(path.with_name(stem))
