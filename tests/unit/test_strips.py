"""Arrays in strips: any window joins back from its ranged reads, which cost only the strip
edges."""

from __future__ import annotations

import numpy as np
import pytest

from pivfleet.core.strips import HEADER_BYTES, encode_strips, narrowest, read_layout
from pivfleet.core.tiling import Box

SHAPE = (203, 317)
"""Not a multiple of the strip width: the last strip is padded."""
WIDTH = 32


def read_window(data: bytes, window: Box) -> tuple[np.ndarray, int]:
    """The window as a reader gets it, and the bytes its ranges fetched."""
    layout = read_layout(data[:HEADER_BYTES])
    pieces = [data[start : start + length] for start, length in layout.ranges(window)]
    return layout.join(window, pieces), sum(len(p) for p in pieces)


@pytest.mark.parametrize(
    ("components", "dtype"), [((), np.uint16), ((), np.uint8), ((2,), np.float64)]
)
def test_every_window_joins_back_from_its_ranges(components: tuple[int, ...], dtype) -> None:
    rng = np.random.default_rng(0)
    array = (rng.random((*components, *SHAPE)) * 250).astype(dtype)
    data = encode_strips(array, WIDTH)
    for _ in range(50):
        y0, x0 = rng.integers(0, SHAPE[0]), rng.integers(0, SHAPE[1])
        y1, x1 = rng.integers(y0 + 1, SHAPE[0] + 1), rng.integers(x0 + 1, SHAPE[1] + 1)
        window = Box(y0=int(y0), y1=int(y1), x0=int(x0), x1=int(x1))
        joined, fetched = read_window(data, window)
        np.testing.assert_array_equal(joined, array[..., y0:y1, x0:x1])
        assert joined.dtype == dtype
        rows, columns = window.shape
        item = np.dtype(dtype).itemsize * int(np.prod(components))
        assert fetched <= rows * (columns + 2 * WIDTH - 2) * item  # only the strip edges


def test_a_window_costs_one_request_per_strip_it_touches() -> None:
    data = encode_strips(np.ones(SHAPE, np.uint16), WIDTH)
    layout = read_layout(data[:HEADER_BYTES])
    assert len(layout.ranges(Box(y0=10, y1=20, x0=31, x1=33))) == 2
    assert len(layout.ranges(Box(y0=0, y1=SHAPE[0], x0=0, x1=SHAPE[1]))) == 10
    assert len(data) == layout.offset + 10 * WIDTH * SHAPE[0] * 2  # padded to whole strips


@pytest.mark.parametrize(
    ("values", "dtype"),
    [
        (np.array([[0.0, 255.0]]), np.uint8),
        (np.array([[0.0, 4095.0, 65535.0]]), np.uint16),
        (np.array([[0.5, 70000.0]]), np.float32),
        (np.array([[-1.0, 3.0]]), np.float32),
        (np.array([[0.1, 1 / 3]]), np.float64),
    ],
)
def test_frames_are_stored_in_the_narrowest_exact_dtype(values: np.ndarray, dtype: type) -> None:
    stored = narrowest(values)
    assert stored.dtype == dtype
    np.testing.assert_array_equal(stored.astype(np.float64), values)
