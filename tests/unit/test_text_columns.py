"""The .txt columns' numbers: written with vectorised arithmetic, byte for byte what Python's
`%.4e` (OpenPIV's `tools.save`, np.savetxt) writes."""

from __future__ import annotations

import numpy as np

from pivfleet.core.outputs import TEXT_FORMAT, scientific


def python_text(values: np.ndarray) -> list[str]:
    return [TEXT_FORMAT % value for value in values.tolist()]


def our_text(values: np.ndarray) -> list[str]:
    return [bytes(cell[cell != 0]).decode() for cell in scientific(values)]


def test_every_kind_of_value_is_written_as_python_writes_it() -> None:
    """Displacements and positions, ties and near ties of the fifth digit, powers of ten
    (where log10 can be one off), carries (9.99995 → 1.0000e+01), zeros of both signs,
    non-finite values, subnormals and the extremes of the exponent."""
    rng = np.random.default_rng(0)
    edges = [0.0, -0.0, np.nan, -np.nan, np.inf, -np.inf, 5e-324, 1e-310, 1.7976931348623157e308]
    edges += [9.99995, 9.99985, 1.00005, 0.5, 2.5, 12345.5, 123455.0, 99999.5, 999995.0]
    values = np.concatenate(
        [
            edges,
            rng.normal(0, 3, 20_000),
            rng.normal(0, 1e-5, 5_000),
            np.exp(rng.uniform(-700, 700, 20_000)) * rng.choice([-1, 1], 20_000),
            np.round(rng.normal(0, 1, 20_000), 5),  # many exact or near ties
            np.arange(5_000) * 8 + 8.0,
            10.0 ** np.arange(-307, 308),
            np.nextafter(10.0 ** np.arange(-300, 300), 0),
        ]
    )
    assert our_text(values) == python_text(values)


def test_a_fields_text_is_np_savetxts() -> None:
    import io

    from pivfleet.core.outputs import TEXT_HEADER, render_text
    from pivfleet.core.stitching import Field

    rng = np.random.default_rng(1)
    ys, xs = np.meshgrid(np.arange(37) * 8 + 8.0, np.arange(53) * 8 + 8.0, indexing="ij")
    u, v = rng.normal(0, 3, xs.shape), rng.normal(0, 3, xs.shape)
    u[3, 4] = np.nan
    flags = (rng.random(xs.shape) < 0.1).astype(np.int8)
    field = Field(x=xs * 1.3e-5, y=ys[::-1] * 1.3e-5, u=u, v=v, flags=flags)
    table = np.stack([xs, ys[::-1] * 1.3e-5, u, v, flags, np.zeros_like(u)], axis=-1)
    table[..., 0] *= 1.3e-5
    expected = io.BytesIO()
    np.savetxt(expected, table.reshape(-1, 6), fmt="%.4e", delimiter="\t")
    assert render_text(field) == TEXT_HEADER.encode() + expected.getvalue()
