"""A decompression bomb (a few MB on disk, 900 Mpx decoded) is refused from its header, with
its size and the limit, before a pixel is decoded: in `pivfleet run` and in a worker alike.
Memory is measured over the whole process tree while it runs, as proportional set size: pages
the forked pool shares with its parent are counted once, not once per process."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile

from bench.memory import run_measured

BOMB_SIDE = 30_000  # px: 900 Mpx, 7.2 GB as float64
PEAK_MEMORY_LIMIT_BYTES = 500 * 2**20


def write_bomb(path: Path) -> None:
    """Zeros in deflate-compressed tiles, written tile by tile: under 1 MB on disk."""
    tile = 1024
    tiles = (-(-BOMB_SIDE // tile)) ** 2
    zeros = np.zeros((tile, tile), np.uint8)
    tifffile.imwrite(
        path, itertools.repeat(zeros, tiles), shape=(BOMB_SIDE, BOMB_SIDE), dtype=np.uint8,
        tile=(tile, tile), compression="zlib",
    )  # fmt: skip


@pytest.fixture
def bomb_beside_a_good_pair(one_pair: Path) -> Path:
    write_bomb(one_pair / "big_a.tif")
    (one_pair / "big_b.tif").write_bytes((one_pair / "big_a.tif").read_bytes())
    assert (one_pair / "big_a.tif").stat().st_size < 2**20
    return one_pair


def test_pivfleet_run_refuses_a_bomb_from_its_header(
    bomb_beside_a_good_pair: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "pivfleet.cli.main", "run", str(bomb_beside_a_good_pair)]
    done, peak = run_measured([*argv, "--out", str(out), "--workers", "2"])
    assert done.returncode == 1, done.stderr
    assert "big_a.tif is 30000×30000 px = 900.0 Mpx, above the limit of 50.0 Mpx" in done.stderr
    assert "--max-frame-pixels" in done.stderr and "Traceback" not in done.stderr
    assert (out / "good.txt").is_file()
    assert peak < PEAK_MEMORY_LIMIT_BYTES, f"peak {peak / 2**20:.0f} MiB"


WORKER_READS_THE_BOMB = """
import sys
from pathlib import Path
from pivfleet.core.errors import ImageReadError
from pivfleet.roles.frame_cache import FrameCache
from pivfleet.transports.file_store import FileBlobStore
try:
    FrameCache(FileBlobStore(Path(sys.argv[1]))).pair("big_a.tif", "big_b.tif", 50_000_000)
except ImageReadError as error:
    print(error)
"""


def test_a_worker_refuses_a_bomb_from_its_header(bomb_beside_a_good_pair: Path) -> None:
    """A frame replaced by a bomb after planning is caught where the worker reads it."""
    argv = [sys.executable, "-c", WORKER_READS_THE_BOMB, str(bomb_beside_a_good_pair)]
    done, peak = run_measured(argv)
    assert done.returncode == 0, done.stderr
    assert "big_a.tif is 30000×30000 px = 900.0 Mpx, above the limit of 50.0 Mpx" in done.stdout
    assert peak < PEAK_MEMORY_LIMIT_BYTES, f"peak {peak / 2**20:.0f} MiB"
