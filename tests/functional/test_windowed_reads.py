"""Jobs of a pass-synchronous pair read about their crops, not the frames: the dispatcher
copies the frames into strips once, and a frame it cannot use fails its pair there."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile

from pivfleet.core.cost import Usage
from pivfleet.core.imaging import read_frame, read_header
from pivfleet.core.keys import RunKeys, new_generation
from pivfleet.core.messages import TileJob
from pivfleet.core.plan import RunInput, RunPlan
from pivfleet.core.spec import RunSpec
from pivfleet.roles.dispatcher import dispatch_run
from pivfleet.roles.metrics import Meter, MeteredStore
from pivfleet.roles.storage import RunStorage
from pivfleet.roles.worker import Workspace, process_tile
from pivfleet.transports.file_store import FileBlobStore
from tests.synthetic import make_pair, shear, write_pair

SHAPE = (1000, 1400)
BYTES_PER_PIXEL = 2
"""The pair is 16-bit: its strips keep two bytes a pixel."""
MAX_READ_OVER_CROP = 1.5


def dispatch(folder: Path, work: Path) -> tuple[RunPlan | None, list[TileJob], RunStorage]:
    keys = RunKeys(run="windowed", generation=new_generation(), outputs_prefix="")
    storage = RunStorage(FileBlobStore(work), FileBlobStore(work / "out"), keys)
    names = FileBlobStore(folder).list("")
    frames = RunInput(
        names,
        lambda name: read_header(str(folder / name), name),
        lambda name: read_frame(str(folder / name)),
    )
    sent: list[str] = []
    plan = dispatch_run(
        RunSpec(run="windowed", tiling=320, workers=8),
        frames,
        storage,
        lambda _algorithm, bodies: sent.extend(bodies),
    )
    return plan, [TileJob.model_validate_json(body) for body in sent], storage


def test_a_pass_job_reads_about_its_crop_not_the_frames(tmp_path: Path) -> None:
    write_pair(tmp_path / "in", "big", make_pair(SHAPE, shear(), bits=16, seed=3))
    plan, jobs, storage = dispatch(tmp_path / "in", tmp_path / "work")
    assert plan is not None and plan.pairs[0].synchronous and len(jobs) > 8
    frames = Meter()
    space = Workspace(MeteredStore(FileBlobStore(tmp_path / "in"), frames), storage.work)
    for job in jobs[:4]:
        result = process_tile(job, space, storage.keys)
        assert result.status == "done", result.error
        crop_bytes = 2 * result.pixels_read * BYTES_PER_PIXEL
        assert crop_bytes <= result.bytes_read <= MAX_READ_OVER_CROP * crop_bytes
    assert frames.usage() == Usage()  # the source frames were never fetched


def test_the_strips_hold_the_frames_bit_for_bit(tmp_path: Path) -> None:
    write_pair(tmp_path / "in", "big", make_pair(SHAPE, shear(), bits=16, seed=3))
    _, jobs, storage = dispatch(tmp_path / "in", tmp_path / "work")
    space = Workspace(FileBlobStore(tmp_path / "in"), storage.work)
    crop, frame = jobs[5].tile.crop, read_frame(str(tmp_path / "in" / "big_b.tif"))
    np.testing.assert_array_equal(
        space.crop(jobs[5], storage.keys)[1], frame[crop.y0 : crop.y1, crop.x0 : crop.x1]
    )


def test_a_black_frame_fails_its_pair_when_its_strips_are_written(tmp_path: Path) -> None:
    write_pair(tmp_path / "in", "good", make_pair(SHAPE, shear(), bits=16, seed=3))
    write_pair(tmp_path / "in", "dark", make_pair(SHAPE, shear(), bits=16, seed=4))
    tifffile.imwrite(tmp_path / "in" / "dark_b.tif", np.zeros(SHAPE, np.uint16))
    plan, jobs, storage = dispatch(tmp_path / "in", tmp_path / "work")
    assert plan is not None
    dark = plan.pair("dark")
    assert dark.error is not None and "dark_b.tif: every pixel is 0, a black frame" in dark.error
    assert {job.pair for job in jobs} == {"good"}
    status = storage.work.get(storage.keys.pair_status("dark")).decode()
    assert "a black frame" in status
