"""Reading camera frames into float64 arrays without losing bit depth."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from pivfleet.core.errors import ImageReadError

IMAGE_SUFFIXES = (".tif", ".tiff", ".png", ".bmp", ".jpg", ".jpeg")
RGB_LUMA_WEIGHTS = (0.299, 0.587, 0.114)

Frame = npt.NDArray[np.float64]


def decode_frame(data: bytes, name: str) -> Frame:
    """Decode image bytes to a 2-D float64 array of raw grey levels (16-bit stays 0..65535).

    Frames are kept as float64 so that window deformation interpolates them without the
    rounding OpenPIV's uint8 path would apply.
    """
    import imageio.v3 as iio  # imported here: only readers pay for the plugin machinery

    suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    try:
        pixels = iio.imread(data, extension=suffix or None, index=0)  # type: ignore[arg-type]
    except Exception as error:
        raise ImageReadError(
            f"{name}: cannot be read as an image ({type(error).__name__}: {error}). "
            f"Give frames as TIFF, PNG, BMP or JPEG ({', '.join(IMAGE_SUFFIXES)}), "
            "or move other files out of the input folder."
        ) from error
    return to_grey(np.asarray(pixels), name)


def to_grey(pixels: np.ndarray, name: str) -> Frame:
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
    return pixels.astype(np.float64, copy=False)


def read_frame(path: str, data: bytes | None = None) -> Frame:
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
