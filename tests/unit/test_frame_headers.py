"""The dispatcher learns each frame's size from its first bytes (`BlobReader`: ranged GETs,
a HEAD for a TIFF), not from the whole frame: planning a run of large frames reads kilobytes
per frame, and a store that fails is not taken for a bad frame."""

from __future__ import annotations

import io
import json
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile
from PIL import Image

from pivfleet.core.cost import Usage
from pivfleet.core.errors import ImageReadError
from pivfleet.core.imaging import read_header
from pivfleet.core.keys import bucket_keys
from pivfleet.core.ports import Message
from pivfleet.roles.blob_reader import BLOCK_BYTES, BlobReader
from pivfleet.roles.dispatcher import Dispatcher, read_headers
from pivfleet.roles.metrics import Meter, MeteredStore
from pivfleet.transports.file_store import FileBlobStore
from pivfleet.transports.memory_queue import InMemoryQueue

SHAPE = (1500, 2000)
"""6 MB a frame in 16 bits: 90 blocks of `BLOCK_BYTES`."""


def noise(bits: int, seed: int = 0) -> np.ndarray:
    top = 2**bits - 1
    dtype = np.uint8 if bits == 8 else np.uint16
    return (np.random.default_rng(seed).random(SHAPE) * top).astype(dtype)


def write_frames(root: Path) -> list[str]:
    """One frame of each format the readers take, the TIFFs both ways round (tifffile puts
    the directory before the pixels, Pillow after them: at the file's end)."""
    root.mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(root / "tifffile.tif", noise(16))
    Image.fromarray(noise(8)).save(root / "pillow.tif")
    iio.imwrite(root / "frame.png", noise(16))
    iio.imwrite(root / "frame.jpg", noise(8))
    iio.imwrite(root / "frame.bmp", noise(8))
    return sorted(p.name for p in root.iterdir())


def test_a_header_read_through_blocks_is_the_whole_files_and_costs_a_few_requests(
    tmp_path: Path,
) -> None:
    names = write_frames(tmp_path)
    meter = Meter()
    read = read_headers(MeteredStore(FileBlobStore(tmp_path), meter), names)
    for name in names:
        assert read(name) == read_header((tmp_path / name).read_bytes(), name), name
    usage = meter.take()
    frame_bytes = sum((tmp_path / n).stat().st_size for n in names)
    assert usage.bytes_read <= 3 * BLOCK_BYTES * len(names) < frame_bytes / 20
    assert usage.requests.s3_get + usage.requests.s3_head <= 3 * len(names)


def test_planning_a_run_reads_the_frames_headers_not_their_pixels(tmp_path: Path) -> None:
    inputs, outputs = FileBlobStore(tmp_path / "in"), FileBlobStore(tmp_path / "out")
    (tmp_path / "in" / "big").mkdir(parents=True)
    for index in range(3):
        for side in "ab":
            tifffile.imwrite(tmp_path / "in" / "big" / f"p{index}_{side}.tif", noise(16, index))
    inputs.put("big/run.json", json.dumps({"run": "big", "tiling": "none", "frames": 6}).encode())
    notification = '{"Records": [{"eventTime": "2026-11-24T22:30:00.000Z", ' + (
        '"s3": {"object": {"key": "big/run.json", "sequencer": "01"}}}]}'
    )
    jobs = InMemoryQueue("jobs")
    Dispatcher(inputs, outputs, lambda _: jobs).handle(Message(notification, receipt="r"))
    assert len(jobs.receive(10, 0)) == 3
    generation = outputs.get(bucket_keys("big", "x").current()).decode()
    usage = Usage.model_validate_json(
        outputs.get(bucket_keys("big", generation).dispatcher_usage())
    )
    frames = sum(p.stat().st_size for p in (tmp_path / "in" / "big").glob("*.tif"))
    assert usage.bytes_read < frames / 20, f"{usage.bytes_read} bytes read of {frames}"


class CountedReads(FileBlobStore):
    """A store that counts the ranged reads made of it."""

    ranged = 0

    def get_range(self, key: str, start: int, length: int) -> bytes:
        self.ranged += 1
        return super().get_range(key, start, length)


def test_a_redelivered_notification_reads_no_header(tmp_path: Path) -> None:
    """Headers are read when a plan is made, not for a run whose jobs are sent already."""
    inputs, outputs = CountedReads(tmp_path / "in"), FileBlobStore(tmp_path / "out")
    (tmp_path / "in" / "run").mkdir(parents=True)
    for side in "ab":
        tifffile.imwrite(tmp_path / "in" / "run" / f"p_{side}.tif", noise(16))
    inputs.put("run/run.json", json.dumps({"run": "run", "tiling": "none", "frames": 2}).encode())
    notification = '{"Records": [{"eventTime": "2026-11-24T22:30:00.000Z", ' + (
        '"s3": {"object": {"key": "run/run.json", "sequencer": "01"}}}]}'
    )
    dispatcher = Dispatcher(inputs, outputs, lambda _: InMemoryQueue("jobs"))
    dispatcher.handle(Message(notification, receipt="r"))
    assert inputs.ranged >= 2  # each frame's header
    planned = inputs.ranged
    dispatcher.handle(Message(notification, receipt="r2"))
    assert inputs.ranged == planned


class Failing(FileBlobStore):
    """A store whose ranged reads fail as S3 does when throttled."""

    def get_range(self, key: str, start: int, length: int) -> bytes:
        raise ConnectionError("SlowDown")


def test_a_failing_store_is_raised_not_taken_for_a_bad_frame(tmp_path: Path) -> None:
    names = write_frames(tmp_path)
    with pytest.raises(ConnectionError, match="SlowDown"):
        read_headers(Failing(tmp_path), names)(names[0])
    with pytest.raises(KeyError):
        read_headers(FileBlobStore(tmp_path), ["gone.tif"])("gone.tif")


def test_a_frame_that_is_no_image_fails_only_its_own_header(tmp_path: Path) -> None:
    names = write_frames(tmp_path)
    (tmp_path / "broken.tif").write_bytes(b"II*\x00" + b"\xff" * 100)
    read = read_headers(FileBlobStore(tmp_path), [*names, "broken.tif"])
    with pytest.raises(ImageReadError, match=r"broken\.tif"):
        read("broken.tif")
    assert read("frame.png").width == SHAPE[1]


def test_the_reader_reads_seeks_and_ends_as_a_file_does(tmp_path: Path) -> None:
    data = np.random.default_rng(1).bytes(3 * BLOCK_BYTES + 123)
    (tmp_path / "blob").write_bytes(data)
    reader = io.BufferedReader(BlobReader(FileBlobStore(tmp_path), "blob"))
    reader.seek(BLOCK_BYTES - 10)
    assert reader.read(30) == data[BLOCK_BYTES - 10 : BLOCK_BYTES + 20]  # across two blocks
    assert reader.seek(-5, io.SEEK_END) == len(data) - 5
    assert reader.read() == data[-5:]
    assert reader.read(10) == b""
    with pytest.raises(ValueError, match="before the start"):
        reader.seek(-1)
