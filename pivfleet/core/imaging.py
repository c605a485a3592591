"""Reading camera frames into float arrays without losing bit depth, the header first, so
a frame too large for a worker's memory is refused before a pixel is decoded.

A frame is decoded into single precision where that holds every grey level exactly (8- to
16-bit integers, float32: half the memory and the copying of double), and into double
otherwise (32-bit integers, float64, colour's luminance)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt
import tifffile
from PIL import Image

from pivfleet.core.errors import ImageReadError

IMAGE_SUFFIXES = (".tif", ".tiff", ".png", ".bmp", ".jpg", ".jpeg")
TIFF_SUFFIXES = (".tif", ".tiff")
RGB_LUMA_WEIGHTS = (0.299, 0.587, 0.114)
SATURATED_LEVELS = frozenset(2**bits - 1 for bits in (8, 10, 12, 14, 16))
"""The top grey level of the bit depths cameras record at."""

Image.MAX_IMAGE_PIXELS = None  # pivfleet's own limit (`max_frame_pixels`) is checked instead

Frame = npt.NDArray[np.float64]
Pixels = npt.NDArray[np.floating[Any]]
"""A frame in either precision (`grey_levels`); the fast engine deforms into single."""
SINGLE_EXACT = (np.bool_, np.uint8, np.int8, np.uint16, np.int16, np.float16, np.float32)
"""Sample types every value of which float32 holds exactly (its 24-bit significand)."""


@dataclass(frozen=True)
class FrameHeader:
    """What a frame's header says, read without decoding its pixels."""

    height: int
    width: int
    frames: int = 1
    """Pages of a TIFF, frames of an animated PNG: pivfleet reads one frame per file."""

    @property
    def pixels(self) -> int:
        return self.height * self.width


def read_header(source: bytes | str | BinaryIO, name: str) -> FrameHeader:
    """The header of a frame given as its bytes, its local path or a file reading it (the
    readers read the header and, for a TIFF, each page's directory: not the pixels)."""
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        if name.lower().endswith(TIFF_SUFFIXES):
            with tifffile.TiffFile(stream) as tiff:
                page = tiff.pages.first
                return FrameHeader(page.imagelength, page.imagewidth, len(tiff.pages))
        with Image.open(stream) as image:  # lazy: reads the header only
            return FrameHeader(image.height, image.width, getattr(image, "n_frames", 1))
    except (FileNotFoundError, IsADirectoryError, PermissionError) as error:
        raise ImageReadError(f"{name}: cannot open ({error.strerror}); check the path.") from None
    except Exception as error:  # each reader fails in its own way on what is not its format
        raise unreadable(name, error) from error


def check_header(header: FrameHeader, name: str, max_pixels: int) -> None:
    """Refuse a stack (one frame per file) and a frame above `max_pixels`, by its header."""
    if header.frames > 1:
        raise ImageReadError(
            f"{name} holds {header.frames} frames (pages); pivfleet reads one frame per file: "
            "export each frame as its own file (NAME_a/NAME_b, or numbered for --pairing "
            "sequential)"
        )
    if header.pixels > max_pixels:
        raise ImageReadError(
            f"{name} is {header.width}×{header.height} px = {count_pixels(header.pixels)}, above "
            f"the limit of {count_pixels(max_pixels)} per frame (--max-frame-pixels, "
            "max_frame_pixels in run.json): crop the frames, or raise the limit for workers "
            "with the memory (about 40 bytes per pixel in tiles, see bench/memory.py)"
        )


def count_pixels(pixels: int) -> str:
    return f"{pixels / 1e6:.1f} Mpx" if pixels >= 100_000 else f"{pixels} px"


def unreadable(name: str, error: Exception) -> ImageReadError:
    return ImageReadError(
        f"{name}: cannot be read as an image ({type(error).__name__}: {error}). "
        f"Give frames as TIFF, PNG, BMP or JPEG ({', '.join(IMAGE_SUFFIXES)}), "
        "or move other files out of the input folder."
    )


def decode_frame(data: bytes, name: str, max_pixels: int | None = None) -> Pixels:
    """Decode image bytes to a 2-D float array of raw grey levels (16-bit stays 0..65535),
    after checking the header against `max_pixels` when given.

    Frames are kept as floats so that window deformation interpolates them without the
    rounding OpenPIV's uint8 path would apply.
    """
    import imageio.v3 as iio  # imported here: only readers pay for the plugin machinery

    header = read_header(data, name)
    if max_pixels is not None:
        check_header(header, name, max_pixels)
    suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    try:
        pixels = np.asarray(iio.imread(data, extension=suffix or None, index=0))  # type: ignore[arg-type]
    except Exception as error:
        raise unreadable(name, error) from error
    colour_planes = pixels.ndim == 3 and pixels.shape[0] in (3, 4) and header.frames == 1
    if colour_planes and pixels.shape[1:] == (header.height, header.width):
        pixels = np.moveaxis(pixels, 0, -1)  # an RGB TIFF stored plane by plane
    return to_grey(pixels, name)


def to_grey(pixels: np.ndarray, name: str) -> Pixels:
    """Collapse colour to luminance; refuse anything that is not one 2-D frame."""
    if pixels.ndim == 3 and pixels.shape[-1] == 2:  # grey + alpha
        pixels = pixels[..., 0]
    if pixels.ndim == 3 and pixels.shape[-1] in (3, 4):
        pixels = pixels[..., :3].astype(np.float64) @ np.array(RGB_LUMA_WEIGHTS)
    if pixels.ndim != 2:
        raise ImageReadError(
            f"{name}: expected a single greyscale or RGB frame, found an array of shape "
            f"{pixels.shape}; export one frame per file."
        )
    return grey_levels(pixels)


def grey_levels(pixels: np.ndarray) -> Pixels:
    """`pixels` as floats: single precision where it holds them exactly, double otherwise."""
    exact = pixels.dtype.type in SINGLE_EXACT
    return pixels.astype(np.float32 if exact else np.float64, copy=False)


def as_double(frame: Pixels) -> Frame:
    """`frame` in double precision, as OpenPIV's functions and the plugin contract take it."""
    return np.asarray(frame, np.float64)


def read_frame(path: str, data: bytes | None = None) -> Pixels:
    """Read a frame from a local path, or decode `data` already fetched for it."""
    if data is None:
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as error:
            raise ImageReadError(
                f"{path}: cannot open ({error.strerror}); check the path."
            ) from None
    return decode_frame(data, path)


def is_image_name(name: str) -> bool:
    return name.lower().endswith(IMAGE_SUFFIXES)


def check_texture(frame: Pixels, name: str) -> None:
    """Refuse what PIV cannot correlate, naming its cause: NaN or infinite grey levels, and
    a frame of one grey level (black, saturated, or blank)."""
    finite = np.isfinite(frame)
    if not finite.all():
        y, x = np.argwhere(~finite)[0]
        raise ImageReadError(
            f"{name}: {np.count_nonzero(~finite)} pixel(s) are NaN or infinite (the first at "
            f"x {x}, y {y}): PIV needs finite grey levels; replace them (e.g. with 0) when "
            "exporting"
        )
    low, high = float(frame.min()), float(frame.max())
    if low == high:
        raise ImageReadError(f"{name}: every pixel is {low:g}, {uniform_cause(low)}")


def uniform_cause(level: float) -> str:
    if level == 0:
        return "a black frame: check the camera, the laser timing and the exposure"
    if level in SATURATED_LEVELS:
        return "saturated: lower the exposure, the laser power or the camera gain"
    return "no texture to correlate: check that the frame shows particles"
