"""`pivfleet samples`: OpenPIV's own sample pairs, for the demo and the tests."""

from __future__ import annotations

import shutil
from pathlib import Path

SAMPLE_PAIRS = {
    "test1": ("exp1_001_a.bmp", "exp1_001_b.bmp"),
    "test2": ("2image_00.tif", "2image_01.tif"),
    "test4": ("Camera1-0101.tif", "Camera1-0102.tif"),
    "test5": ("Pattern_1_A.tif", "Pattern_1_B.tif"),
}
"""OpenPIV's sample pairs used by the demo and the accuracy tests."""


def sample_frames(folder: str) -> tuple[Path, Path]:
    """The two frames of OpenPIV's sample pair `folder` (a key of SAMPLE_PAIRS), where the
    installed openpiv keeps them."""
    import openpiv

    data = Path(openpiv.__file__).parent / "data" / folder
    first, second = SAMPLE_PAIRS[folder]
    return data / first, data / second


def copy_samples(target: Path) -> list[Path]:
    """Copy OpenPIV's sample pairs into `target` as NAME_a/NAME_b files."""
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for folder in SAMPLE_PAIRS:
        for letter, frame in zip("ab", sample_frames(folder), strict=True):
            destination = target / f"{folder}_{letter}{frame.suffix}"
            shutil.copyfile(frame, destination)
            written.append(destination)
    return written
