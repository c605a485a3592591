"""Writing a field for people: OpenPIV's text columns and a quiver PNG (NetCDF: `netcdf`)."""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from pivfleet.core.calibration import Units
from pivfleet.core.stitching import Field

TEXT_FORMAT = "%.4e"
"""OpenPIV's `tools.save` default, so existing scripts read our files unchanged."""
TEXT_HEADER = "# x\ty\tu\tv\tflags\tmask\n"
ARROWS_ACROSS = 48
"""Arrows along a plot's longer side: denser grids are thinned so that each stays legible."""


def render_text(field: Field) -> bytes:
    """Columns x, y, u, v, flags, mask, tab separated, as `openpiv.tools.save` writes them
    (in the units of `field`: see `calibrate`)."""
    mask = np.zeros_like(field.u)
    columns = [field.x, field.y, field.u, field.v, field.flags.astype(float), mask]
    table = np.vstack([c.ravel() for c in columns]).T
    # One format string for the whole table: what np.savetxt writes, in half its time.
    row = "\t".join([TEXT_FORMAT] * len(columns)) + "\n"
    return (TEXT_HEADER + (row * len(table)) % tuple(table.ravel().tolist())).encode()


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
