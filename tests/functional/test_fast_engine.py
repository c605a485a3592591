"""The fast engine against the truth and against OpenPIV: as accurate as OpenPIV's windef on
synthetic pairs of known displacement, and its vectors on OpenPIV's samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pivfleet.core.imaging import read_frame
from pivfleet.core.spec import PivSettings
from pivfleet.core.vectors import Vectors
from pivfleet.engine.reference import run_passes
from tests.synthetic import Flow, make_pair, shear, sinusoidal, uniform, vortex

RMS_ROUNDING_PX = 1e-4
"""Single-precision correlation moves vectors by ~1e-5 px; an RMS error may differ by that."""
SAMPLE_RMS_PX, SAMPLE_CLOSE_PX, SAMPLE_CLOSE_SHARE = 0.05, 0.1, 0.99

CASES: dict[str, tuple[tuple[int, int], Flow, int]] = {
    "uniform-8bit-301x459": ((301, 459), uniform(), 8),
    "shear-16bit-333x517": ((333, 517), shear(), 16),
    "vortex-8bit-401x559": ((401, 559), vortex((200, 280)), 8),
    "sinusoidal-16bit-387x611": ((387, 611), sinusoidal(), 16),
}


def rms_error(vectors: Vectors, flow: Flow, piv: PivSettings) -> float:
    """Against the flow at the final windows' centres."""
    rows, cols = vectors.u.shape
    step, half = piv.steps[-1], piv.windows[-1] / 2.0
    y, x = np.meshgrid(np.arange(rows) * step + half, np.arange(cols) * step + half, indexing="ij")
    u, v = flow(y.astype(float), x.astype(float))
    return float(np.sqrt(np.mean((vectors.u - u) ** 2 + (vectors.v - v) ** 2)))


@pytest.mark.parametrize("case", list(CASES))
def test_the_fast_engine_is_as_accurate_as_openpiv_against_the_truth(case: str) -> None:
    shape, flow, bits = CASES[case]
    pair = make_pair(shape, flow, bits=bits, seed=7)
    frames = pair.frame_a.astype(float), pair.frame_b.astype(float)
    errors = {
        engine: rms_error(run_passes(*frames, PivSettings(engine=engine)), flow, PivSettings())
        for engine in ("openpiv", "fast")
    }
    assert errors["fast"] <= errors["openpiv"] + RMS_ROUNDING_PX, errors
    assert errors["openpiv"] < 0.2, errors  # the pair is one PIV can measure


@pytest.mark.parametrize("sample", ["test1", "test2", "test4", "test5"])
def test_the_fast_engine_gives_openpivs_vectors_on_its_samples(
    sample_input: Path, sample: str
) -> None:
    frames = [read_frame(str(p)) for p in sorted(sample_input.glob(f"{sample}_?.*"))]
    ours = run_passes(*frames, PivSettings(engine="fast"))
    reference = run_passes(*frames, PivSettings(engine="openpiv"))
    distance = np.hypot(ours.u - reference.u, ours.v - reference.v)
    assert float(np.sqrt(np.mean(distance**2))) <= SAMPLE_RMS_PX
    assert np.mean(distance <= SAMPLE_CLOSE_PX) >= SAMPLE_CLOSE_SHARE


@pytest.mark.parametrize(
    "setting",
    [
        {"deformation_method": "second image"},
        {"interpolation_order": 1},
        {"median_normalized": True},
    ],
)
def test_settings_the_fast_engine_hands_to_scipy_and_openpiv_mean_the_same(setting: dict) -> None:
    """Second-image deformation (OpenPIV's `deform_windows`) and non-cubic interpolation
    (scipy's) in both engines; the normalised median test is pivfleet's in both."""
    shape, flow, bits = CASES["vortex-8bit-401x559"]
    pair = make_pair(shape, flow, bits=bits, seed=7)
    frames = pair.frame_a.astype(float), pair.frame_b.astype(float)
    fast, reference = (
        run_passes(*frames, PivSettings(engine=e, **setting)) for e in ("fast", "openpiv")
    )
    distance = np.hypot(fast.u - reference.u, fast.v - reference.v)
    assert float(np.sqrt(np.mean(distance**2))) <= RMS_ROUNDING_PX
    assert rms_error(fast, flow, PivSettings()) < 0.2
