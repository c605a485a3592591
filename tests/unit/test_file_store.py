"""FileBlobStore: a folder with S3's object semantics (get, put, put-if-absent, list)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import pivfleet.transports.file_store
from pivfleet.core.ports import BlobStore
from pivfleet.transports.file_store import FileBlobStore


@pytest.fixture
def store(tmp_path: Path) -> FileBlobStore:
    return FileBlobStore(tmp_path / "bucket")


def test_is_a_blob_store(tmp_path: Path) -> None:
    store: BlobStore = FileBlobStore(tmp_path)
    assert store.list("") == []


def test_put_get_round_trip(store: FileBlobStore) -> None:
    data = bytes(range(256)) * 100
    store.put("runs/r1/tiles/p/0.npz", data)
    assert store.get("runs/r1/tiles/p/0.npz") == data


def check_ranges(store: BlobStore) -> None:
    """Ranged reads and sizes as S3 answers them: the bytes asked for, fewer at the end,
    KeyError when the object is missing."""
    data = bytes(range(256)) * 40
    store.put("ranges/blob", data)
    assert store.get_range("ranges/blob", 0, 10) == data[:10]
    assert store.get_range("ranges/blob", 1000, 300) == data[1000:1300]
    assert store.get_range("ranges/blob", len(data) - 5, 256) == data[-5:]
    assert store.size("ranges/blob") == len(data)
    with pytest.raises(KeyError):
        store.get_range("ranges/missing", 0, 10)
    with pytest.raises(KeyError):
        store.size("ranges/missing")


def test_ranged_reads(store: FileBlobStore) -> None:
    check_ranges(store)


def test_put_creates_the_folders_and_writes_under_the_root(store: FileBlobStore) -> None:
    store.put("a/b/c.txt", b"hi")
    assert (store.root / "a" / "b" / "c.txt").read_bytes() == b"hi"


def test_put_overwrites(store: FileBlobStore) -> None:
    store.put("k", b"first")
    store.put("k", b"second, longer")
    assert store.get("k") == b"second, longer"
    store.put("k", b"")
    assert store.get("k") == b""


def test_get_missing_is_key_error(store: FileBlobStore) -> None:
    with pytest.raises(KeyError, match="no/such/key"):
        store.get("no/such/key")


def test_get_missing_in_an_existing_folder_is_key_error(store: FileBlobStore) -> None:
    store.put("runs/a.txt", b"x")
    with pytest.raises(KeyError):
        store.get("runs/b.txt")


def test_put_if_absent_writes_once(store: FileBlobStore) -> None:
    assert store.put_if_absent("out/p.txt", b"first") is True
    assert store.put_if_absent("out/p.txt", b"second") is False
    assert store.get("out/p.txt") == b"first"


def test_put_if_absent_does_not_block_other_keys(store: FileBlobStore) -> None:
    assert store.put_if_absent("out/p.txt", b"1") is True
    assert store.put_if_absent("out/q.txt", b"2") is True
    assert store.get("out/q.txt") == b"2"


def test_put_if_absent_after_put_is_refused(store: FileBlobStore) -> None:
    store.put("k", b"old")
    assert store.put_if_absent("k", b"new") is False
    assert store.get("k") == b"old"


def test_exists(store: FileBlobStore) -> None:
    assert store.exists("runs/x") is False
    store.put("runs/x", b"1")
    assert store.exists("runs/x") is True
    assert store.exists("runs") is False  # a folder is not an object
    assert store.exists("runs/y") is False


def test_list_by_prefix_sorted_with_nested_keys(store: FileBlobStore) -> None:
    keys = [
        "runs/r1/tiles/p10/0.npz",
        "runs/r1/tiles/p2/1.npz",
        "runs/r1/tiles/p2/0.npz",
        "runs/r10/tiles/p/0.npz",
        "runs/r2/status.json",
        "out/r1/p.txt",
        "top.json",
    ]
    for key in keys:
        store.put(key, key.encode())
    assert store.list("") == sorted(keys)
    assert store.list("runs/r1/") == [
        "runs/r1/tiles/p10/0.npz",
        "runs/r1/tiles/p2/0.npz",
        "runs/r1/tiles/p2/1.npz",
    ]
    # S3 prefixes are plain string prefixes, not folders
    assert store.list("runs/r1") == sorted(k for k in keys if k.startswith("runs/r1"))
    assert store.list("runs/r1/tiles/p2/0") == ["runs/r1/tiles/p2/0.npz"]
    assert store.list("nothing/") == []


def test_list_of_an_empty_or_missing_root(tmp_path: Path) -> None:
    assert FileBlobStore(tmp_path / "never-created").list("") == []


def test_listed_keys_can_be_read_back(store: FileBlobStore) -> None:
    for key in ("a/b", "a/c/d", "e"):
        store.put(key, key.encode())
    assert {key: store.get(key) for key in store.list("")} == {
        "a/b": b"a/b",
        "a/c/d": b"a/c/d",
        "e": b"e",
    }


@pytest.mark.parametrize("key", ["../x", "a/../../x", "../bucket-other/x", "/etc/passwd"])
def test_keys_escaping_the_root_are_refused(store: FileBlobStore, key: str) -> None:
    with pytest.raises(KeyError, match="outside the store"):
        store.put(key, b"evil")
    with pytest.raises(KeyError, match="outside the store"):
        store.put_if_absent(key, b"evil")
    with pytest.raises(KeyError):
        store.get(key)
    with pytest.raises(KeyError):
        store.exists(key)
    assert not (store.root.parent / "x").exists()


def test_dot_dot_inside_the_root_stays_inside(store: FileBlobStore) -> None:
    store.put("a/../b", b"1")
    assert store.get("b") == b"1"


def test_partial_files_are_never_listed(store: FileBlobStore) -> None:
    store.put("runs/r/p.txt", b"done")
    # a writer that died between write and rename leaves its partial file behind
    leftover = store.root / "runs" / "r" / f".q.txt.{os.getpid()}.partial"
    leftover.write_bytes(b"half")
    (store.root / f".top.json.{os.getpid() + 1}.partial").write_bytes(b"half")
    assert store.list("") == ["runs/r/p.txt"]
    assert store.list("runs/r/") == ["runs/r/p.txt"]


def test_no_partial_files_remain_after_writes(store: FileBlobStore) -> None:
    store.put("a/k", b"1")
    store.put_if_absent("a/k", b"2")
    store.put_if_absent("a/j", b"3")
    leftovers = [p.name for p in store.root.rglob("*") if p.name.endswith(".partial")]
    assert leftovers == []


def test_a_reader_during_put_sees_the_old_or_the_new_object(
    store: FileBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While `put` is between writing and renaming, the key still holds the old bytes."""
    store.put("k", b"old")
    seen: list[bytes] = []
    listed: list[list[str]] = []
    real_replace = Path.replace

    def observing_replace(self: Path, target: Path) -> Path:
        seen.append(store.get("k"))
        listed.append(store.list(""))
        return real_replace(self, target)

    monkeypatch.setattr(Path, "replace", observing_replace)
    store.put("k", b"new and longer")
    assert seen == [b"old"]
    assert listed == [["k"]]
    assert store.get("k") == b"new and longer"


def test_put_if_absent_interleaved_in_one_process_has_one_winner(
    store: FileBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two threads of one process race on the same key (e.g. a collector with a pool)."""
    real_link = os.link
    results: list[bool] = []

    def link_after_a_rival(source: str | Path, target: str | Path) -> None:
        monkeypatch.setattr(pivfleet.transports.file_store.os, "link", real_link)
        results.append(store.put_if_absent("out/p.txt", b"rival"))  # the other thread wins
        real_link(source, target)

    monkeypatch.setattr(pivfleet.transports.file_store.os, "link", link_after_a_rival)
    results.insert(0, store.put_if_absent("out/p.txt", b"mine"))
    assert results == [False, True]
    assert store.get("out/p.txt") == b"rival"


def test_keys_starting_with_a_dot_are_listed(store: FileBlobStore) -> None:
    store.put("runs/.keep", b"")
    assert store.exists("runs/.keep")
    assert store.list("runs/") == ["runs/.keep"]


def test_get_of_a_prefix_folder_is_key_error(store: FileBlobStore) -> None:
    store.put("runs/x", b"1")
    with pytest.raises(KeyError):
        store.get("runs")


def test_a_symlink_in_the_folder_is_followed_wherever_it_points(
    store: FileBlobStore, tmp_path: Path
) -> None:
    """Users link frames in from an archive; only keys that climb out (`..`) are refused."""
    archive = tmp_path / "archive"
    archive.mkdir()
    (archive / "frame.tif").write_bytes(b"pixels")
    store.root.mkdir(parents=True, exist_ok=True)
    (store.root / "linked.tif").symlink_to(archive / "frame.tif")
    assert store.list("") == ["linked.tif"]
    assert store.get("linked.tif") == b"pixels"


def test_a_name_at_the_file_system_limit_can_be_written(store: FileBlobStore) -> None:
    key = "x" * 251 + ".txt"  # 255 bytes: the most a name may have
    store.put(key, b"1")
    assert store.put_if_absent(key, b"2") is False
    assert store.get(key) == b"1"


def test_a_listing_keeps_prefix_semantics_within_its_folder(store: FileBlobStore) -> None:
    for key in ("runs/r/p1.txt", "runs/r/p10.txt", "runs/r/sub/p1.json", "runs/q/p1.txt", "p1"):
        store.put(key, b"x")
    assert store.list("runs/r/p1") == ["runs/r/p1.txt", "runs/r/p10.txt"]
    assert store.list("runs/r/") == ["runs/r/p1.txt", "runs/r/p10.txt", "runs/r/sub/p1.json"]
    assert store.list("runs/none/") == []
    assert store.list("p") == ["p1"]
    with pytest.raises(KeyError, match="outside the store"):
        store.list("../elsewhere/")
