"""Where one run's objects live: the work store, the output store and their keys."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from pivfleet.core.keys import RunKeys
from pivfleet.core.ports import BlobStore
from pivfleet.engine.threads import map_threads


@dataclass(frozen=True)
class RunStorage:
    """Intermediate objects (plan, tile vectors, records) go to `work`, results to `outputs`.

    In the cloud both are the output bucket; embedded, `work` is a scratch folder."""

    work: BlobStore
    outputs: BlobStore
    keys: RunKeys

    def is_finished(self, pair: str) -> bool:
        """The pair has its status: a result of it now is a redelivery."""
        return self.work.exists(self.keys.pair_status(pair))


IO_THREADS = 16
"""Parallel requests for one pair's records, blocks and strip ranges: S3 answers each in tens
of ms."""

Item = TypeVar("Item")
Answer = TypeVar("Answer")


def in_parallel(request: Callable[[Item], Answer], items: list[Item]) -> list[Answer]:
    """`request` on every item, up to `IO_THREADS` at a time, answers in order."""
    return map_threads(request, items, min(IO_THREADS, len(items)))


def read_many(store: BlobStore, keys: list[str]) -> list[bytes]:
    """Every key's bytes, in order, read in parallel."""
    return in_parallel(store.get, keys)


def write_many(store: BlobStore, items: list[tuple[str, bytes]]) -> None:
    """Put every (key, bytes), in parallel."""
    in_parallel(lambda item: store.put(*item), items)
