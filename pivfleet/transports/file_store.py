"""A folder as a blob store: keys are relative POSIX paths under the root."""

from __future__ import annotations

import fcntl
import hashlib
import os
import posixpath
import shutil
import uuid
from pathlib import Path

PARTIAL_SUFFIX = ".partial"


def partial_path(path: Path) -> Path:
    """A writer-private temporary name beside `path`: unique per call, so concurrent writers
    never share it, and short, so a final name near the 255-byte limit still fits."""
    return path.with_name(f".{uuid.uuid4().hex}{PARTIAL_SUFFIX}")


def version_tag(data: bytes) -> str:
    """A tag from the content: a compare-and-swap that finds the same bytes may replace them,
    since the caller computed its update from exactly those bytes."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


class FileBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        """The key's path, refused when the key climbs out of the root (`..`, absolute).

        Checked on the key's text, not on the resolved path: a symlink a user put in their
        input folder is followed wherever it points, as every other tool would."""
        normal = posixpath.normpath(key)
        if posixpath.isabs(normal) or normal == ".." or normal.startswith("../"):
            raise KeyError(f"{key}: outside the store at {self.root}")
        return self.root / normal

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            raise KeyError(key) from None

    def get_range(self, key: str, start: int, length: int) -> bytes:
        try:
            with self._path(key).open("rb") as handle:
                handle.seek(start)
                return handle.read(length)
        except (FileNotFoundError, IsADirectoryError):
            raise KeyError(key) from None

    def size(self, key: str) -> int:
        path = self._path(key)
        if not path.is_file():
            raise KeyError(key)
        return path.stat().st_size

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = partial_path(path)
        partial.write_bytes(data)
        partial.replace(path)  # atomic: a reader never sees half a file

    def put_file(self, key: str, source: Path) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = partial_path(path)
        shutil.copyfile(source, partial)
        partial.replace(path)

    def put_if_absent(self, key: str, data: bytes) -> bool:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = partial_path(path)
        partial.write_bytes(data)
        try:
            os.link(partial, path)  # atomic and fails if the key exists: S3's If-None-Match
        except FileExistsError:
            return False
        finally:
            partial.unlink()
        return True

    def get_tagged(self, key: str) -> tuple[bytes, str]:
        try:
            data = self._path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            raise KeyError(key) from None
        return data, version_tag(data)

    def put_if_tagged(self, key: str, data: bytes, tag: str | None) -> bool:
        if tag is None:
            return self.put_if_absent(key, data)
        path = self._path(key)
        # The lock makes check-then-replace one step among this key's tagged writers.
        with path.with_name(f".{path.name}.cas{PARTIAL_SUFFIX}").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                current = version_tag(path.read_bytes())
            except FileNotFoundError:
                return False
            if current != tag:
                return False
            self.put(key, data)
            return True

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, keys: list[str]) -> None:
        for key in keys:
            self._path(key).unlink(missing_ok=True)

    def newest(self, prefix: str) -> float | None:
        times = [self._path(key).stat().st_mtime for key in self.list(prefix)]
        return max(times, default=None)

    def modified(self, key: str) -> float | None:
        path = self._path(key)
        return path.stat().st_mtime if path.is_file() else None

    def folders(self, prefix: str) -> list[str]:
        base = self._path(prefix) if prefix else self.root.resolve()
        if not base.is_dir():
            return []
        return sorted(p.name for p in base.iterdir() if p.is_dir() and any(p.rglob("*")))

    def list(self, prefix: str) -> list[str]:
        """Keys under `prefix`, walking only the prefix's folder: the cost of a listing grows
        with what it returns, not with everything in the store (the collector lists often)."""
        base, folder = self.root.resolve(), prefix.rpartition("/")[0]
        if folder:
            self._path(folder)  # refuse a prefix that climbs out of the root
        start = base / folder
        if not start.is_dir():
            return []
        found = (p.relative_to(base).as_posix() for p in start.rglob("*") if p.is_file())
        return sorted(k for k in found if k.startswith(prefix) and not k.endswith(PARTIAL_SUFFIX))
