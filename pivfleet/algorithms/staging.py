"""The files a wrapped executable reads: a job's crop of each frame, written in the format its
spec declares (`pivfleet:pgm`, `pivfleet:tiff` or `pivfleet:npy`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from pivfleet.core.imaging import Frame

SUFFIXES = {"pivfleet:pgm": ".pgm", "pivfleet:tiff": ".tif", "pivfleet:npy": ".npy"}
PGM_8BIT_MAX, PGM_16BIT_MAX = 255, 65535


def stage_frame(folder: Path, stem: str, frame: Frame, file_format: str) -> Path:
    """Write `frame` as `<folder>/<stem><suffix>` and return the path."""
    path = folder / f"{stem}{SUFFIXES[file_format]}"
    if file_format == "pivfleet:pgm":
        write_pgm(path, frame)
    elif file_format == "pivfleet:tiff":
        import tifffile

        tifffile.imwrite(path, narrowest(frame))
    else:
        np.save(path, np.asarray(frame, dtype=np.float64))
    return path


def narrowest(frame: Frame) -> npt.NDArray[np.generic]:
    """The frame in 8 or 16 bits when its grey levels are whole numbers that fit (as the camera
    wrote them), else float32."""
    whole = bool(np.all(np.mod(frame, 1) == 0)) and frame.min() >= 0
    if whole and frame.max() <= PGM_8BIT_MAX:
        return frame.astype(np.uint8)
    if whole and frame.max() <= PGM_16BIT_MAX:
        return frame.astype(np.uint16)
    return frame.astype(np.float32)


def write_pgm(path: Path, frame: Frame) -> None:
    """Binary PGM (P5): 8-bit, or 16-bit big-endian when a grey level exceeds 255. PGM holds
    whole levels only: others are rounded and clipped to 0…65535."""
    levels = np.clip(np.rint(frame), 0, PGM_16BIT_MAX)
    maxval = PGM_8BIT_MAX if levels.max() <= PGM_8BIT_MAX else PGM_16BIT_MAX
    raster = levels.astype(np.uint8 if maxval == PGM_8BIT_MAX else ">u2")
    height, width = frame.shape[:2]
    with path.open("wb") as file:
        file.write(f"P5\n{width} {height}\n{maxval}\n".encode("ascii"))
        file.write(raster.tobytes())


def read_staged(path: Path, file_format: str) -> Frame:
    """A frame a command wrote in `file_format` (an image step's output), as float64 grey
    levels; ValueError saying what is wrong with the file."""
    if file_format == "pivfleet:npy":
        frame = np.load(path, allow_pickle=False)
    elif file_format == "pivfleet:tiff":
        import tifffile

        frame = tifffile.imread(path)
    else:
        frame = read_pgm(path)
    if frame.ndim != 2:
        raise ValueError(f"a frame has 2 dimensions (rows, columns), not {frame.shape}")
    return np.asarray(frame, dtype=np.float64)


def read_pgm(path: Path) -> npt.NDArray[np.generic]:
    """Binary PGM (P5), 8- or 16-bit, with one header line per field as `write_pgm` writes."""
    data = path.read_bytes()
    fields = data.split(maxsplit=4)
    if len(fields) < 5 or fields[0] != b"P5":
        raise ValueError("not a binary PGM (P5) file")
    width, height, maxval = (int(f) for f in fields[1:4])
    dtype = np.uint8 if maxval <= PGM_8BIT_MAX else np.dtype(">u2")
    raster = data[len(data) - width * height * np.dtype(dtype).itemsize :]
    return np.frombuffer(raster, dtype=dtype).reshape(height, width)
