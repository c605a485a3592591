"""Reading camera frames: every supported format, 16-bit range intact, clear errors otherwise."""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile

from pivfleet.core.errors import ImageReadError
from pivfleet.core.imaging import (
    IMAGE_SUFFIXES,
    RGB_LUMA_WEIGHTS,
    FrameHeader,
    check_header,
    check_texture,
    decode_frame,
    is_image_name,
    read_frame,
    read_header,
)

SHAPE = (37, 53)  # deliberately not a multiple of any window


def ramp(dtype: type[np.integer], top: int) -> np.ndarray:
    """A frame whose values run from 0 to `top` inclusive, with distinct neighbours."""
    values = np.linspace(0, top, SHAPE[0] * SHAPE[1]).round()
    return values.astype(dtype).reshape(SHAPE)


def test_8bit_tiff_reads_exact_values(tmp_path: Path) -> None:
    pixels = ramp(np.uint8, 255)
    path = tmp_path / "frame_a.tif"
    tifffile.imwrite(path, pixels)
    frame = read_frame(str(path))
    assert frame.dtype == np.float32  # exact: 8 bits in a 24-bit significand
    assert frame.shape == SHAPE
    np.testing.assert_array_equal(frame, pixels.astype(np.float64))


def test_16bit_tiff_keeps_the_full_range(tmp_path: Path) -> None:
    pixels = ramp(np.uint16, 65535)
    pixels[0, 0], pixels[-1, -1], pixels[5, 7] = 65535, 0, 65534
    path = tmp_path / "frame_a.tiff"
    tifffile.imwrite(path, pixels)
    frame = read_frame(str(path))
    assert frame.dtype == np.float32
    assert frame.max() == 65535.0 and frame.min() == 0.0
    np.testing.assert_array_equal(frame, pixels.astype(np.float64))


def test_12bit_camera_values_in_16bit_tiff_are_not_rescaled(tmp_path: Path) -> None:
    pixels = ramp(np.uint16, 4095)
    path = tmp_path / "cam.tif"
    tifffile.imwrite(path, pixels)
    np.testing.assert_array_equal(read_frame(str(path)), pixels.astype(np.float64))


def test_16bit_png_keeps_the_full_range(tmp_path: Path) -> None:
    pixels = ramp(np.uint16, 65535)
    path = tmp_path / "frame.png"
    iio.imwrite(path, pixels)
    frame = read_frame(str(path))
    assert frame.dtype == np.float32
    assert frame.max() == 65535.0
    np.testing.assert_array_equal(frame, pixels.astype(np.float64))


def test_8bit_png_reads_exact_values(tmp_path: Path) -> None:
    pixels = ramp(np.uint8, 255)
    path = tmp_path / "frame.png"
    iio.imwrite(path, pixels)
    np.testing.assert_array_equal(read_frame(str(path)), pixels.astype(np.float64))


def test_bmp_reads_exact_values(tmp_path: Path) -> None:
    pixels = ramp(np.uint8, 255)
    path = tmp_path / "frame.bmp"
    iio.imwrite(path, pixels)
    frame = read_frame(str(path))
    assert frame.shape == SHAPE
    np.testing.assert_array_equal(frame, pixels.astype(np.float64))


@pytest.mark.parametrize("suffix", [".jpg", ".jpeg", ".JPG"])
def test_jpeg_reads_with_the_right_shape(tmp_path: Path, suffix: str) -> None:
    pixels = np.full(SHAPE, 128, dtype=np.uint8)
    path = tmp_path / f"frame{suffix}"
    path.write_bytes(iio.imwrite("<bytes>", pixels, extension=".jpg"))
    frame = read_frame(str(path))
    assert frame.shape == SHAPE
    assert frame.dtype == np.float32
    # a flat grey survives JPEG within a grey level or two
    assert np.abs(frame - 128).max() <= 2


def test_rgb_becomes_luminance(tmp_path: Path) -> None:
    rgb = np.zeros((*SHAPE, 3), dtype=np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 200, 100, 50
    rgb[0, 0] = (255, 255, 255)
    path = tmp_path / "colour.png"
    iio.imwrite(path, rgb)
    frame = read_frame(str(path))
    assert frame.shape == SHAPE
    expected = 0.299 * 200 + 0.587 * 100 + 0.114 * 50
    assert frame[5, 5] == pytest.approx(expected, abs=1e-9)
    assert frame[0, 0] == pytest.approx(255.0, abs=1e-9)
    assert sum(RGB_LUMA_WEIGHTS) == pytest.approx(1.0, abs=1e-12)


def test_rgba_drops_alpha(tmp_path: Path) -> None:
    rgba = np.zeros((*SHAPE, 4), dtype=np.uint8)
    rgba[..., 1] = 100
    rgba[..., 3] = 7
    path = tmp_path / "colour.png"
    iio.imwrite(path, rgba)
    frame = read_frame(str(path))
    assert frame.shape == SHAPE
    assert frame[3, 3] == pytest.approx(0.587 * 100, abs=1e-9)


def test_16bit_rgb_tiff_becomes_luminance_without_clipping(tmp_path: Path) -> None:
    rgb = np.full((*SHAPE, 3), 60000, dtype=np.uint16)
    path = tmp_path / "colour.tif"
    tifffile.imwrite(path, rgb, photometric="rgb")
    frame = read_frame(str(path))
    assert frame.shape == SHAPE
    np.testing.assert_allclose(frame, 60000.0, rtol=0, atol=1e-6)


def test_decode_frame_from_bytes_uses_the_name_for_the_format() -> None:
    pixels = ramp(np.uint16, 65535)
    data = iio.imwrite("<bytes>", pixels, extension=".png")
    np.testing.assert_array_equal(decode_frame(data, "runs/r/x_a.png"), pixels.astype(np.float64))


def test_read_frame_uses_given_bytes_instead_of_the_path(tmp_path: Path) -> None:
    pixels = ramp(np.uint8, 255)
    data = iio.imwrite("<bytes>", pixels, extension=".bmp")
    missing = tmp_path / "not-there.bmp"
    np.testing.assert_array_equal(read_frame(str(missing), data), pixels.astype(np.float64))


def assert_names_file_and_formats(error: pytest.ExceptionInfo[ImageReadError], name: str) -> None:
    message = str(error.value)
    assert name in message
    for suffix in IMAGE_SUFFIXES:
        assert suffix in message


def test_random_bytes_are_refused_naming_the_file_and_formats() -> None:
    junk = bytes(range(256)) * 4
    with pytest.raises(ImageReadError) as error:
        decode_frame(junk, "runs/r/garbage_a.png")
    assert_names_file_and_formats(error, "runs/r/garbage_a.png")


def test_text_file_named_tif_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes_a.tif"
    path.write_text("these are my lab notes, not an image\n")
    with pytest.raises(ImageReadError) as error:
        read_frame(str(path))
    assert_names_file_and_formats(error, str(path))


def test_empty_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.bmp"
    path.write_bytes(b"")
    with pytest.raises(ImageReadError) as error:
        read_frame(str(path))
    assert str(path) in str(error.value)


def test_truncated_png_is_refused(tmp_path: Path) -> None:
    data = iio.imwrite("<bytes>", ramp(np.uint8, 255), extension=".png")
    path = tmp_path / "cut.png"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match=r"cut\.png"):
        read_frame(str(path))


@pytest.mark.parametrize(
    "shape", [(4, 5, 6, 7), (3, 20, 30), (2, 20, 30, 3)], ids=["4d", "stack", "rgb-stack"]
)
def test_multi_dimensional_arrays_are_refused(tmp_path: Path, shape: tuple[int, ...]) -> None:
    path = tmp_path / "stack.tif"
    photometric = "rgb" if shape[-1] == 3 else "minisblack"
    tifffile.imwrite(path, np.zeros(shape, dtype=np.uint8), photometric=photometric)
    with pytest.raises(ImageReadError) as error:
        read_frame(str(path))
    message = str(error.value)
    assert str(path) in message
    assert str(shape) in message
    assert "one frame per file" in message


def test_missing_path_is_an_image_read_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "frame_a.tif"
    with pytest.raises(ImageReadError) as error:
        read_frame(str(path))
    assert str(path) in str(error.value)
    assert "check the path" in str(error.value)


def test_directory_path_is_an_image_read_error(tmp_path: Path) -> None:
    folder = tmp_path / "looks_like.tif"
    folder.mkdir()
    with pytest.raises(ImageReadError, match=r"looks_like\.tif"):
        read_frame(str(folder))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.tif", True),
        ("a.TIFF", True),
        ("dir/a.png", True),
        ("a.Bmp", True),
        ("a.jpg", True),
        ("a.JPEG", True),
        ("a.txt", False),
        ("a.tif.json", False),
        ("tif", False),
        ("a.gif", False),
    ],
)
def test_is_image_name(name: str, expected: bool) -> None:
    assert is_image_name(name) is expected


def test_greyscale_with_alpha_png_reads_as_its_grey_channel(tmp_path: Path) -> None:
    grey_alpha = np.zeros((*SHAPE, 2), dtype=np.uint8)
    grey_alpha[..., 0] = ramp(np.uint8, 255)
    grey_alpha[..., 1] = 255
    path = tmp_path / "grey_alpha.png"
    iio.imwrite(path, grey_alpha)
    np.testing.assert_array_equal(read_frame(str(path)), grey_alpha[..., 0].astype(np.float64))


def test_planar_rgb_tiff_becomes_luminance(tmp_path: Path) -> None:
    planes = np.zeros((3, *SHAPE), dtype=np.uint16)
    planes[0], planes[1], planes[2] = 1000, 2000, 3000
    path = tmp_path / "planar.tif"
    tifffile.imwrite(path, planes, photometric="rgb", planarconfig="separate")
    expected = 0.299 * 1000 + 0.587 * 2000 + 0.114 * 3000
    np.testing.assert_allclose(read_frame(str(path)), expected, rtol=0, atol=1e-9)


@pytest.mark.parametrize("compression", ["lzw", "zlib", "zstd", "packbits"])
@pytest.mark.parametrize(("dtype", "top"), [(np.uint8, 255), (np.uint16, 65535)])
def test_compressed_tiffs_read_exactly(
    tmp_path: Path, compression: str, dtype: type[np.integer], top: int
) -> None:
    """The compressions camera software writes (LZW above all) decode to the same values."""
    pixels = ramp(dtype, top)
    path = tmp_path / f"{compression}_a.tif"
    tifffile.imwrite(path, pixels, compression=compression)
    np.testing.assert_array_equal(read_frame(str(path)), pixels.astype(np.float64))


def test_jpeg_compressed_tiff_reads_close_to_its_values(tmp_path: Path) -> None:
    pixels = np.kron(ramp(np.uint8, 255), np.ones((2, 2), np.uint8))  # smooth: small JPEG error
    path = tmp_path / "jpeg_a.tif"
    tifffile.imwrite(path, pixels, compression="jpeg")
    frame = read_frame(str(path))
    assert frame.shape == pixels.shape
    assert np.abs(frame - pixels).mean() < 2.0


def test_float_tiff_keeps_its_values(tmp_path: Path) -> None:
    pixels = ramp(np.uint16, 4095).astype(np.float32) / 7.0
    path = tmp_path / "float_a.tif"
    tifffile.imwrite(path, pixels)
    np.testing.assert_allclose(read_frame(str(path)), pixels.astype(np.float64))


@pytest.mark.parametrize(
    ("samples", "decoded"),
    [
        (np.uint8, np.float32),
        (np.uint16, np.float32),
        (np.int16, np.float32),
        (np.float32, np.float32),
        (np.int32, np.float64),
        (np.uint32, np.float64),
        (np.float64, np.float64),
    ],
)
def test_frames_decode_to_single_precision_only_where_it_is_exact(
    tmp_path: Path, samples: type, decoded: type
) -> None:
    """Half the memory where float32 holds every grey level (up to 16-bit integers, float32
    samples); double where it would round (32-bit integers above 2**24, float64 samples)."""
    pixels = ramp(np.uint16, 65535).astype(samples)
    if np.dtype(samples).itemsize == 4 and np.dtype(samples).kind in "iu":
        pixels[0, 0] = 2**24 + 1  # the first integer float32 rounds
    if samples is np.float64:
        pixels[0, 0] = 1 / 3
    path = tmp_path / "frame_a.tif"
    tifffile.imwrite(path, pixels)
    frame = read_frame(str(path))
    assert frame.dtype == decoded
    np.testing.assert_array_equal(frame, pixels.astype(np.float64))


@pytest.mark.parametrize("suffix", [".tif", ".png", ".bmp", ".jpg"])
def test_the_header_gives_the_frame_size_without_decoding(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"frame{suffix}"
    iio.imwrite(path, ramp(np.uint8, 255))
    header = read_header(str(path), path.name)
    assert (header.height, header.width, header.frames) == (*SHAPE, 1)
    assert read_header(path.read_bytes(), path.name) == header


def test_a_stack_is_refused_naming_its_frame_count(tmp_path: Path) -> None:
    path = tmp_path / "stack.tif"
    tifffile.imwrite(path, np.stack([ramp(np.uint8, 255)] * 5))
    with pytest.raises(ImageReadError, match=r"stack\.tif holds 5 frames"):
        decode_frame(path.read_bytes(), "stack.tif", max_pixels=10**6)


def test_the_pixel_limit_is_inclusive_and_names_the_setting() -> None:
    at_limit = FrameHeader(height=100, width=50)
    check_header(at_limit, "f.tif", max_pixels=5000)
    with pytest.raises(
        ImageReadError,
        match=r"f\.tif is 50×100 px = 5000 px, above the limit of 4999 px .*--max-frame-pixels",
    ):
        check_header(at_limit, "f.tif", max_pixels=4999)


@pytest.mark.parametrize(
    ("level", "cause"),
    [(0, "black"), (255, "saturated"), (4095, "saturated"), (65535, "saturated"), (90, "texture")],
)
def test_a_frame_of_one_grey_level_is_refused_with_its_cause(level: int, cause: str) -> None:
    with pytest.raises(ImageReadError, match=rf"f\.tif: every pixel is {level}, .*{cause}"):
        check_texture(np.full(SHAPE, float(level)), "f.tif")


def test_a_frame_with_texture_passes_and_nan_is_located() -> None:
    frame = ramp(np.uint8, 255).astype(np.float64)
    check_texture(frame, "f.tif")
    frame[4, 9] = np.inf
    with pytest.raises(ImageReadError, match=r"1 pixel.* NaN or infinite .*x 9, y 4"):
        check_texture(frame, "f.tif")
