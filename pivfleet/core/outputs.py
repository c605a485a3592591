"""Writing a pair's field: OpenPIV's text columns, NetCDF, and a quiver PNG."""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from pivfleet.core.stitching import Field

TEXT_FORMAT = "%.4e"
"""OpenPIV's `tools.save` default, so existing scripts read our files unchanged."""
TEXT_HEADER = "# x\ty\tu\tv\tflags\tmask\n"


def render_text(field: Field) -> bytes:
    """Columns x, y, u, v, flags, mask, tab separated, as `openpiv.tools.save` writes them."""
    mask = np.zeros_like(field.u)
    columns = [field.x, field.y, field.u, field.v, field.flags.astype(float), mask]
    table = np.vstack([c.ravel() for c in columns]).T
    # One format string for the whole table: what np.savetxt writes, in half its time.
    row = "\t".join([TEXT_FORMAT] * len(columns)) + "\n"
    return (TEXT_HEADER + (row * len(table)) % tuple(table.ravel().tolist())).encode()


def render_netcdf(field: Field, attributes: dict[str, str]) -> bytes:
    """An xarray dataset: x and y window centres in pixels, u and v in pixels per frame."""
    import xarray as xr  # heavy import, only when writing

    dims = ("y", "x")
    dataset = xr.Dataset(
        {
            "u": (dims, field.u, {"units": "pixel/frame", "long_name": "x displacement"}),
            "v": (dims, field.v, {"units": "pixel/frame", "long_name": "y displacement, up"}),
            "flags": (dims, field.flags, {"flag_meanings": "valid replaced missing"}),
        },
        coords={
            "x": ("x", field.x[0, :], {"units": "pixel"}),
            "y": ("y", field.y[:, 0], {"units": "pixel", "positive": "up"}),
        },
        attrs=attributes,
    )
    data = dataset.to_netcdf(engine="scipy")
    return bytes(data) if data is not None else b""


def render_plot(field: Field, title: str) -> bytes:
    """A quiver PNG, invalid and missing vectors in red."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 8 * field.x.shape[0] / max(field.x.shape[1], 1)))
    good = field.flags == 0
    spacing = float(np.diff(field.x[0, :2])[0]) if field.x.shape[1] > 1 else 1.0
    largest = float(np.nanmax(np.hypot(field.u, field.v), initial=0.0)) or 1.0
    # One scale for both sets, so a replaced vector is drawn as long as it is.
    arrows: dict[str, Any] = {
        "angles": "xy",
        "scale_units": "xy",
        "scale": largest / spacing,
        "width": 0.002,
    }
    axes.quiver(field.x[good], field.y[good], field.u[good], field.v[good], color="k", **arrows)
    axes.quiver(field.x[~good], field.y[~good], field.u[~good], field.v[~good], color="r", **arrows)
    axes.set_aspect("equal")
    axes.set_title(title)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()
