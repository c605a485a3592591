"""Where one run's objects live: the work store, the output store and their keys."""

from __future__ import annotations

from dataclasses import dataclass

from pivfleet.core.keys import RunKeys
from pivfleet.core.ports import BlobStore


@dataclass(frozen=True)
class RunStorage:
    """Intermediate objects (plan, tile vectors, records) go to `work`, results to `outputs`.

    In the cloud both are the output bucket; embedded, `work` is a scratch folder."""

    work: BlobStore
    outputs: BlobStore
    keys: RunKeys
