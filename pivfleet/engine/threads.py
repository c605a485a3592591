"""How many threads one engine call may use in this process: one by default, since workers
scale with processes (one per core) and a process that also threads would contend with its
neighbours. A machine that runs fewer worker processes than it has cores (one worker on a
large pair) gives each more: `pivfleet run --threads`, `PIVFLEET_THREADS` for the worker.

The fast engine splits its correlation into blocks of window rows and its deformation into
bands of pixel rows; the compiled loops and scipy's FFTs release the GIL, so the threads run
at once. A process-wide setting, like numba's and BLAS's own thread counts. `map_threads`
with its own count also serves the roles' parallel requests (`roles/storage.py`)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")
_threads = {"count": 1}


def use_threads(count: int) -> None:
    if count < 1:
        raise ValueError(f"threads: {count} is not a thread count; use 1 or more")
    _threads["count"] = count


def thread_count() -> int:
    return _threads["count"]


def map_threads(
    function: Callable[[Item], Result], items: Iterable[Item], threads: int | None = None
) -> list[Result]:
    """`function` over `items` on `threads` threads (default `thread_count()`; in this thread
    when one), results in order."""
    threads = thread_count() if threads is None else threads
    if threads <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(function, items))


def bands(length: int) -> list[slice]:
    """`range(length)` cut into one band per thread."""
    count = min(thread_count(), max(length, 1))
    edges = [length * i // count for i in range(count + 1)]
    return [slice(start, stop) for start, stop in itertools.pairwise(edges)]
