"""Writing a field for people: OpenPIV's text columns and a quiver PNG (NetCDF: `netcdf`)."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import numpy.typing as npt

from pivfleet.core.calibration import Units
from pivfleet.core.stitching import Field

TEXT_FORMAT = "%.4e"
"""OpenPIV's `tools.save` default, so existing scripts read our files unchanged."""
TEXT_HEADER = "# x\ty\tu\tv\tflags\tmask\n"
DECIMALS = 4
"""`TEXT_FORMAT`'s digits after the point (one before it)."""
CELL_BYTES = 12
"""The widest `TEXT_FORMAT` of a float: `-1.2345e+300`."""
EXACT_RANGE = (1e-280, 1e280)
"""Magnitudes scaled by a power of ten without overflow or subnormal precision loss."""
TIE_MARGIN = 1e-6
"""Scaled values this close to a rounding tie are left to Python, whose rounding is exact;
the scaling's own error is below 1e-10 there."""
ARROWS_ACROSS = 48
"""Arrows along a plot's longer side: denser grids are thinned so that each stays legible."""


def render_text(field: Field) -> bytes:
    """Columns x, y, u, v, flags, mask, tab separated, as `openpiv.tools.save` writes them
    (in the units of `field`: see `calibrate`)."""
    mask = np.zeros_like(field.u)
    columns = [field.x, field.y, field.u, field.v, field.flags.astype(float), mask]
    # Each cell padded with zero bytes to the widest, then its tab or newline; the padding is
    # dropped at the end. What np.savetxt writes, a sixth of its time on 450,000 vectors.
    table = np.zeros((columns[0].size, len(columns), CELL_BYTES + 1), np.uint8)
    for index, column in enumerate(columns):
        table[:, index, :CELL_BYTES] = scientific(column.ravel())
    table[:, :-1, CELL_BYTES] = ord("\t")
    table[:, -1, CELL_BYTES] = ord("\n")
    cells = table.reshape(-1)
    return TEXT_HEADER.encode() + bytes(cells[cells != 0].tobytes())


def scientific(values: npt.NDArray[np.float64]) -> npt.NDArray[np.uint8]:
    """Each value as `TEXT_FORMAT % value` writes it, as a row of ASCII bytes padded with zero
    bytes, in vectorised arithmetic; the few values whose rounding it cannot be sure of
    (near a tie), non-finite ones and extreme magnitudes are formatted by Python."""
    cells = np.zeros((values.size, CELL_BYTES), np.uint8)
    size = np.abs(values)
    regular = (size >= EXACT_RANGE[0]) & (size <= EXACT_RANGE[1])
    exponent = np.zeros(values.size, np.int64)
    exponent[regular] = np.floor(np.log10(size[regular]))
    scaled, digits = np.zeros(values.size), np.zeros(values.size)
    for _ in range(2):  # log10's floor can be one off near powers of ten; rounding can carry
        scaled[regular] = size[regular] * 10.0 ** (DECIMALS - exponent[regular])
        digits = np.rint(scaled)
        exponent += (digits >= 10 ** (DECIMALS + 1)) & regular
        exponent -= (digits < 10**DECIMALS) & regular
    near_tie = np.abs(scaled - np.floor(scaled) - 0.5) < TIE_MARGIN
    by_python = (~regular & (values != 0)) | (near_tie & regular)
    whole = digits.astype(np.int64)
    cells[:, 0] = np.where(np.signbit(values), ord("-"), 0)
    cells[:, 1] = ord("0") + whole // 10**DECIMALS
    cells[:, 2] = ord(".")
    for place in range(DECIMALS):
        cells[:, 3 + place] = ord("0") + whole // 10 ** (DECIMALS - 1 - place) % 10
    cells[:, 3 + DECIMALS] = ord("e")
    cells[:, 4 + DECIMALS] = np.where(exponent < 0, ord("-"), ord("+"))
    power = np.abs(exponent)
    # A third exponent digit only from 1e100 on; below, a zero byte (dropped).
    cells[:, 5 + DECIMALS] = np.where(power >= 100, ord("0") + power // 100, 0)
    cells[:, 6 + DECIMALS] = ord("0") + power // 10 % 10
    cells[:, 7 + DECIMALS] = ord("0") + power % 10
    for index in np.flatnonzero(by_python):
        text = (TEXT_FORMAT % values[index]).encode()
        cells[index] = 0
        cells[index, : len(text)] = np.frombuffer(text, np.uint8)
    return cells


def calibrate(field: Field, units: Units) -> Field:
    """The field in output units: OpenPIV's `u / dt`, then `scaling.uniform` (x, y, u, v
    divided by pixels per metre), with positions measured from the calibration's origin."""
    return Field(
        x=units.position(field.x, 0),
        y=units.position(field.y, 1),
        u=field.u * units.speed,
        v=field.v * units.speed,
        flags=field.flags,
    )


def render_plot(field: Field, title: str, units: Units) -> bytes:
    """Arrows over the speed's colour map; replaced and missing vectors as red dots."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, cols = field.x.shape
    figure, axes = plt.subplots(figsize=(9, 1 + 8 * rows / max(cols, 1)))
    speed = np.hypot(field.u, field.v)
    image = axes.pcolormesh(field.x, field.y, speed, cmap="viridis", shading="nearest")
    figure.colorbar(image, ax=axes, label=f"speed ({units.velocity_name})", shrink=0.8)
    # A few outliers must not shrink every arrow: scale to the 98th percentile.
    typical = float(np.nanpercentile(speed, 98)) if np.isfinite(speed).any() else 0.0
    draw_arrows(axes, field, typical or 1.0)
    axes.set_aspect("equal")
    axes.set(title=title, xlabel=f"x ({units.length_name})", ylabel=f"y ({units.length_name})")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def draw_arrows(axes: Any, field: Field, largest: float) -> None:
    """About `ARROWS_ACROSS` arrows across, `largest` as long as their spacing; every
    replaced or missing vector is a red dot, so none hides between the arrows."""
    rows, cols = field.x.shape
    stride = max(1, -(-max(rows, cols) // ARROWS_ACROSS))
    shown = (slice(None, None, stride), slice(None, None, stride))
    spacing = float(np.diff(field.x[0, :2])[0]) * stride if cols > 1 else 1.0
    axes.quiver(
        field.x[shown], field.y[shown], field.u[shown], field.v[shown], color="w",
        angles="xy", scale_units="xy", scale=largest / spacing, width=0.002,
    )  # fmt: skip
    bad = field.flags != 0
    axes.plot(
        field.x[bad], field.y[bad], "r.", markersize=2, alpha=0.6, label="replaced or missing"
    )
    if bad.any():
        axes.legend(loc="upper right", fontsize="small")
