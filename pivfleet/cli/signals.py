"""SIGTERM handled like Ctrl-C: raised in the main thread, so a run unwinds, stops its pool and
removes its scratch folder before the process exits."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager


class TerminatedError(BaseException):
    """SIGTERM arrived. A BaseException, like KeyboardInterrupt: no handler for errors
    (`except Exception`) may swallow it."""


def raise_terminated(*_: object) -> None:
    raise TerminatedError


@contextmanager
def sigterm_raises() -> Iterator[None]:
    previous = signal.signal(signal.SIGTERM, raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
