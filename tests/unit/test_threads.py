"""The fast engine on more threads computes the very same vectors, a band or block each."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from pivfleet.core.spec import PivSettings
from pivfleet.engine.reference import run_passes
from pivfleet.engine.threads import bands, thread_count, use_threads
from tests.synthetic import make_pair, vortex


@pytest.fixture
def two_threads() -> Iterator[None]:
    use_threads(2)
    yield
    use_threads(1)


@pytest.mark.usefixtures("two_threads")
def test_threads_split_the_work_and_not_the_result() -> None:
    pair = make_pair((301, 387), vortex((150, 190)), bits=16, seed=2)
    frames = pair.frame_a.astype(float), pair.frame_b.astype(float)
    threaded = run_passes(*frames, PivSettings(engine="fast"))
    use_threads(1)
    single = run_passes(*frames, PivSettings(engine="fast"))
    np.testing.assert_array_equal(threaded.u, single.u)
    np.testing.assert_array_equal(threaded.v, single.v)


@pytest.mark.usefixtures("two_threads")
def test_bands_cover_every_row_once() -> None:
    assert [(s.start, s.stop) for s in bands(7)] == [(0, 3), (3, 7)]
    assert [(s.start, s.stop) for s in bands(1)] == [(0, 1)]


def test_a_thread_count_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="use 1 or more"):
        use_threads(0)
    assert thread_count() == 1
