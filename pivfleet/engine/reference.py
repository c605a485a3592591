"""The whole-pair engine: every pass of window deformation on one pair (or one tile's crop),
the per-pass kernel (`engine/kernel.py`) and the global steps (`engine/field.py`) in turn.
With OpenPIV's settings it computes what OpenPIV's `windef.simple_multipass` does."""

from __future__ import annotations

from pivfleet.core.imaging import Pixels
from pivfleet.core.spec import PivSettings
from pivfleet.core.vectors import Vectors
from pivfleet.engine.field import predict, settle
from pivfleet.engine.kernel import Predictor, correlate_pass, pass_grids
from pivfleet.engine.rounds import final_vectors


def run_passes(frame_a: Pixels, frame_b: Pixels, piv: PivSettings) -> Vectors:
    """Correlate, validate and replace each pass; each pass predicts the next."""
    grids = pass_grids(piv)
    predictor: Predictor | None = None
    for index, grid in enumerate(grids):
        raw = correlate_pass((frame_a, frame_b), grid, piv, predictor)
        last = index == len(grids) - 1
        field = settle(raw, piv, first=index == 0, last=last)
        if not last:
            predictor = predict(field, grid, grids[index + 1], frame_a.shape, piv)
    return final_vectors(field)
