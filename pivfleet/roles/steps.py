"""A step of a pair (its tiles when each runs every pass, or one pass of a pass-synchronous
pair) as the collector sees it: which results are in, and what they hold.

Each result costs a constant number of requests, whatever the pair's tile count: its record
is written, and one bit is set in the step's tally by compare-and-swap (S3's If-Match), so
every collector (concurrent, or restarted) sees the same count and the one that sets the last
bit knows the step is complete. The results and blobs a collector has seen stay in its memory,
so finishing a step reads only what other collectors recorded."""

from __future__ import annotations

import random
import time
from collections import OrderedDict
from dataclasses import dataclass

from pivfleet.core.errors import PivfleetError
from pivfleet.core.keys import RunKeys
from pivfleet.core.messages import TileResult
from pivfleet.core.plan import PairPlan
from pivfleet.core.ports import BlobStore
from pivfleet.roles.storage import read_many, write_many

TALLY_ATTEMPTS = 100
"""Compare-and-swap rounds before a tally gives up (each loses only to another collector's
successful write, so this bounds contention, not failures)."""
TALLY_BACKOFF_SECONDS = 0.005
STEPS_CACHED = 32
"""Steps whose results a collector keeps in memory (a step: up to a pass's raw blocks, ~11 MB
for a 29 MP pair's last pass)."""


class TallyContentionError(PivfleetError):
    """Too many collectors updated one tally at once; the result is retried later."""


@dataclass(frozen=True)
class Step:
    """Where a step's records and tally live, and how many results complete it."""

    records: str
    """The prefix of its result records."""
    tally: str
    count: int


def pair_steps(keys: RunKeys, pair: PairPlan) -> list[Step]:
    """The pair's steps: one per pass of a pass-synchronous pair, else its tiles as one."""
    if not pair.synchronous:
        return [Step(keys.result_records(pair.name), keys.tally(pair.name, None), pair.tile_count)]
    return [
        Step(keys.pass_records(pair.name, k), keys.tally(pair.name, k), count)
        for k, count in enumerate(pair.pass_tiles)
    ]


def mark(store: BlobStore, key: str, tiles: list[int], count: int) -> bool:
    """Set the bits of `tiles` in the tally at `key` (one swap for all); whether all `count`
    bits are now set."""
    for _ in range(TALLY_ATTEMPTS):
        try:
            data, tag = store.get_tagged(key)
        except KeyError:
            data, tag = bytes((count + 7) // 8), None
        bits = bytearray(data)
        for tile in tiles:
            byte, bit = divmod(tile, 8)
            bits[byte] |= 1 << bit
        if bits == data:
            return complete(bits, count)  # duplicates: nothing to write
        if store.put_if_tagged(key, bytes(bits), tag):
            return complete(bits, count)
        time.sleep(random.uniform(0, TALLY_BACKOFF_SECONDS))
    raise TallyContentionError(f"{key}: {TALLY_ATTEMPTS} collectors' updates collided")


def complete(bits: bytearray, count: int) -> bool:
    return sum(bin(b).count("1") for b in bits) >= count


Seen = dict[int, tuple[TileResult, bytes | None]]


class StepResults:
    """One collector's view of the steps it handles: the results it recorded, with their
    blobs, for the last `STEPS_CACHED` steps.

    A batch of results is recorded at once (`add_batch`: records and blobs in parallel, one
    tally swap per step); `add` then finds each of them done, and only the last result of a
    batch that completed its step says so."""

    def __init__(self, store: BlobStore) -> None:
        self.store = store
        self._seen: OrderedDict[str, Seen] = OrderedDict()
        self._batched: dict[tuple[str, int], bool] = {}

    def add(self, step: Step, record: str, result: TileResult) -> bool:
        """Record `result` in `step` (record, blob, tally bit); whether the step is complete."""
        if (step.tally, result.tile) in self._batched:
            return self._batched.pop((step.tally, result.tile))
        self.add_batch(step, [(record, result)])
        return self._batched.pop((step.tally, result.tile))

    def add_batch(self, step: Step, batch: list[tuple[str, TileResult]]) -> None:
        """Record several results of `step` at once; `add` then tells each one's completion."""
        write_many(self.store, [(key, r.model_dump_json().encode()) for key, r in batch])
        blobs = read_blobs(self.store, [r for _, r in batch])
        self.seen(step).update({r.tile: (r, blobs.get(r.tile)) for _, r in batch})
        tiles = [r.tile for _, r in batch]
        completed = mark(self.store, step.tally, tiles, step.count)
        self._batched.update({(step.tally, tile): False for tile in tiles})
        self._batched[(step.tally, tiles[-1])] = completed

    def seen(self, step: Step) -> Seen:
        if step.tally not in self._seen:
            self._seen[step.tally] = {}
            while len(self._seen) > STEPS_CACHED:
                self.forget_tally(next(iter(self._seen)))
        self._seen.move_to_end(step.tally)
        return self._seen[step.tally]

    def results(self, step: Step) -> list[tuple[TileResult, bytes | None]]:
        """Every result of a complete step with its blob (None for a failed one), by tile;
        only the ones this collector has not seen are read from the store."""
        seen = self.seen(step)
        if len(seen) < step.count:
            records = [TileResult.model_validate_json(d) for d in self.unseen(step, seen)]
            blobs = read_blobs(self.store, records)
            seen.update({r.tile: (r, blobs.get(r.tile)) for r in records})
        return [seen[tile] for tile in sorted(seen)]

    def unseen(self, step: Step, seen: Seen) -> list[bytes]:
        keys = self.store.list(step.records)
        return read_many(self.store, [k for k in keys if tile_of(k) not in seen])

    def forget(self, step: Step) -> None:
        self.forget_tally(step.tally)

    def forget_tally(self, tally: str) -> None:
        self._seen.pop(tally, None)
        self._batched = {k: v for k, v in self._batched.items() if k[0] != tally}


def read_blobs(store: BlobStore, results: list[TileResult]) -> dict[int, bytes]:
    """The blobs of the done results, by tile, read in parallel."""
    done = [r for r in results if r.status == "done" and r.key]
    blobs = read_many(store, [r.key or "" for r in done])
    return {r.tile: blob for r, blob in zip(done, blobs, strict=True)}


def tile_of(record: str) -> int:
    """The tile a record key names (`…/00042.json`)."""
    return int(record.rpartition("/")[2].partition(".")[0])
