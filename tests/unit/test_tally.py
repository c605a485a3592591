"""A step's tally: tiles marked concurrently by many collectors are all counted, a duplicate
changes nothing, and a compare-and-swap with a stale tag never overwrites a newer version."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pivfleet.core.ports import BlobStore
from pivfleet.roles.steps import complete, mark
from pivfleet.transports.file_store import FileBlobStore

TILES = 200


def check_compare_and_swap(store: BlobStore) -> None:
    assert store.put_if_tagged("t", b"one", None)
    assert not store.put_if_tagged("t", b"again", None)
    data, tag = store.get_tagged("t")
    assert data == b"one"
    assert store.put_if_tagged("t", b"two", tag)
    assert not store.put_if_tagged("t", b"lost update", tag), "a stale tag must not write"
    assert store.get("t") == b"two"
    assert not store.put_if_tagged("missing", b"x", tag)
    with pytest.raises(KeyError):
        store.get_tagged("missing")


def check_concurrent_marks(store: BlobStore) -> None:
    with ThreadPoolExecutor(8) as pool:
        done = list(pool.map(lambda tile: mark(store, "tally", [tile], TILES), range(TILES)))
    assert done.count(True) >= 1 and not all(done)
    assert complete(bytearray(store.get("tally")), TILES)
    assert mark(store, "tally", [7], TILES), "a duplicate of a complete step still says complete"


def test_the_file_store_compares_and_swaps(tmp_path: Path) -> None:
    check_compare_and_swap(FileBlobStore(tmp_path))


def test_tiles_marked_by_concurrent_collectors_are_all_counted(tmp_path: Path) -> None:
    check_concurrent_marks(FileBlobStore(tmp_path))


def test_one_tile_short_is_not_complete(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    assert not any(mark(store, "tally", [tile], 10) for tile in range(9))
    assert not mark(store, "tally", [3], 10)
    assert mark(store, "tally", [9], 10)
    assert store.list("") == ["tally"], "the lock beside the tally is not a key"
