"""Synthetic PIV pairs with known displacement, seeded: Gaussian particles moved by a flow
(uniform, shear, vortex, sinusoidal), rendered at 8 or 16 bits with camera noise."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import tifffile

Array = npt.NDArray[np.float64]
Flow = Callable[[Array, Array], tuple[Array, Array]]
"""(y, x) in pixels → (u, v) in pixels per frame; v points down, as image rows do."""

PARTICLES_PER_PIXEL = 0.02
PARTICLE_DIAMETER_PX = 2.5
NOISE_FRACTION = 0.02
PATCH_RADIUS_PX = 3


def uniform(u: float = 3.2, v: float = -1.7) -> Flow:
    return lambda y, x: (np.full_like(x, u), np.full_like(y, v))


def shear(rate: float = 0.02) -> Flow:
    return lambda y, x: (rate * (y - y.mean()), np.zeros_like(y))


def vortex(centre: tuple[float, float], strength: float = 6.0, core_px: float = 60.0) -> Flow:
    def flow(y: Array, x: Array) -> tuple[Array, Array]:
        dy, dx = y - centre[0], x - centre[1]
        r2 = dx**2 + dy**2
        speed = strength * (1 - np.exp(-r2 / core_px**2)) / np.sqrt(np.maximum(r2, 1e-9))
        return -dy * speed / np.sqrt(np.maximum(r2, 1e-9)), dx * speed / np.sqrt(
            np.maximum(r2, 1e-9)
        )

    return flow


def sinusoidal(amplitude: float = 3.0, wavelength_px: float = 200.0) -> Flow:
    return lambda y, x: (amplitude * np.sin(2 * np.pi * y / wavelength_px), np.zeros_like(x))


@dataclass(frozen=True)
class SyntheticPair:
    frame_a: npt.NDArray[np.integer]
    frame_b: npt.NDArray[np.integer]
    flow: Flow


def make_pair(shape: tuple[int, int], flow: Flow, bits: int = 8, seed: int = 0) -> SyntheticPair:
    """Particles at random midpoints `p`: frame A shows them at p − d(p)/2, frame B at
    p + d(p)/2, so the displacement measured around p is d(p)."""
    rng = np.random.default_rng(seed)
    count = int(PARTICLES_PER_PIXEL * shape[0] * shape[1])
    y = rng.uniform(-8, shape[0] + 8, count)
    x = rng.uniform(-8, shape[1] + 8, count)
    brightness = rng.uniform(0.5, 1.0, count)
    u, v = flow(y, x)
    top = 2**bits - 1
    frames = []
    for sign in (-0.5, 0.5):
        image = render(shape, y + sign * v, x + sign * u, brightness)
        image += NOISE_FRACTION * rng.standard_normal(shape)
        frames.append(
            np.clip(image * 0.8 * top, 0, top).astype(np.uint8 if bits == 8 else np.uint16)
        )
    return SyntheticPair(frames[0], frames[1], flow)


def render(shape: tuple[int, int], y: Array, x: Array, brightness: Array) -> Array:
    """Gaussian particle images summed on the pixel grid."""
    image = np.zeros(shape)
    sigma = PARTICLE_DIAMETER_PX / 4
    offsets = np.arange(-PATCH_RADIUS_PX, PATCH_RADIUS_PX + 1)
    rows = np.floor(y).astype(int)[:, None, None] + offsets[None, :, None]
    cols = np.floor(x).astype(int)[:, None, None] + offsets[None, None, :]
    weight = np.exp(
        -((rows - y[:, None, None]) ** 2 + (cols - x[:, None, None]) ** 2) / (2 * sigma**2)
    )
    inside = (rows >= 0) & (rows < shape[0]) & (cols >= 0) & (cols < shape[1])
    rows, cols = np.broadcast_arrays(rows, cols)
    np.add.at(image, (rows[inside], cols[inside]), (weight * brightness[:, None, None])[inside])
    return image


def write_pair(folder: Path, name: str, pair: SyntheticPair) -> None:
    """The pair as `<name>_a.tif`/`<name>_b.tif`, at its bit depth, as a camera writes them."""
    folder.mkdir(parents=True, exist_ok=True)
    for suffix, frame in (("a", pair.frame_a), ("b", pair.frame_b)):
        tifffile.imwrite(folder / f"{name}_{suffix}.tif", frame)
