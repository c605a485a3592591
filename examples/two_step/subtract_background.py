"""Background subtraction for PIV: an image step, a program pivfleet knows nothing about.

Usage: subtract_background.py FRAME_A.npy FRAME_B.npy --radius PIXELS

Writes a.npy and b.npy in the working directory: each frame minus its local minimum over a
(2 radius + 1)-pixel square (the slowly varying background: glare, uneven light, reflections),
then scaled so that both frames share one contrast. Exits 64 on a bad argument or input (a
permanent failure in its spec), 0 when done.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

BAD_INPUT_EXIT_CODE = 64


def sliding_minimum(frame: np.ndarray, radius: int) -> np.ndarray:
    """The minimum over a square of side 2 radius + 1 around each pixel, edges replicated:
    two passes of 1-D minima over shifted views (separable)."""
    result = frame
    for axis in (0, 1):
        padded = np.pad(result, [(radius, radius) if a == axis else (0, 0) for a in (0, 1)], "edge")
        size = result.shape[axis]
        views = (np.take(padded, range(k, k + size), axis=axis) for k in range(2 * radius + 1))
        result = np.minimum.reduce(list(views))
    return result


def subtract_background(frame: np.ndarray, radius: int) -> np.ndarray:
    return frame - sliding_minimum(frame, radius)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("frame_a")
    parser.add_argument("frame_b")
    parser.add_argument("--radius", type=int, default=7)
    args = parser.parse_args(argv)
    if args.radius < 1:
        print(f"--radius {args.radius}: give at least 1 pixel", file=sys.stderr)
        return BAD_INPUT_EXIT_CODE
    frames = [np.load(path).astype(np.float64) for path in (args.frame_a, args.frame_b)]
    if frames[0].ndim != 2 or frames[0].shape != frames[1].shape:
        shapes = f"{frames[0].shape} and {frames[1].shape}"
        print(f"frames of {shapes}: both must be 2-D and the same size", file=sys.stderr)
        return BAD_INPUT_EXIT_CODE
    cleaned = [subtract_background(frame, args.radius) for frame in frames]
    scale = max(float(np.percentile(np.concatenate([c.ravel() for c in cleaned]), 99.9)), 1e-9)
    for name, image in zip(("a.npy", "b.npy"), cleaned, strict=True):
        np.save(name, (image / scale).astype(np.float32))
    print(f"background removed (radius {args.radius} px, contrast scale {scale:.4g})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
