"""The one backoff rule: exponential, capped. Every retry in pivfleet waits by it."""

from __future__ import annotations


def backoff_seconds(attempt: int, base_seconds: float, max_seconds: float) -> float:
    """Wait before try `attempt + 1`: `base × 2^(attempt − 1)`, at most `max_seconds`."""
    return float(min(max_seconds, base_seconds * 2 ** max(attempt - 1, 0)))
