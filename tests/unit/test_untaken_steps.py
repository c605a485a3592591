"""The reconciler's view of an image step: complete but not followed up when its result is
recorded and its next-sent marker is not (a collector lost between the two)."""

from __future__ import annotations

from pivfleet.core.keys import RunKeys
from pivfleet.core.plan import PairPlan
from pivfleet.roles.reconciler import untaken_step

KEYS = RunKeys(run="r", generation="20261124T000000000Z-a", outputs_prefix="r/")
PAIR = PairPlan(name="p/x", frame_a="a.tif", frame_b="b.tif", image_shape=(64, 64), tile_count=1)


def test_a_recorded_step_without_its_marker_is_untaken() -> None:
    records = {KEYS.step_record("p/x", 0)}
    assert untaken_step(KEYS, PAIR, records, image_steps=2) == KEYS.step_record("p/x", 0)


def test_a_step_sent_on_waits_for_the_next_one() -> None:
    records = {KEYS.step_record("p/x", 0), KEYS.step_sent("p/x", 0)}
    assert untaken_step(KEYS, PAIR, records, image_steps=2) is None
    records |= {KEYS.step_record("p/x", 1)}
    assert untaken_step(KEYS, PAIR, records, image_steps=2) == KEYS.step_record("p/x", 1)


def test_after_the_last_step_the_piv_results_count() -> None:
    records = {KEYS.step_record("p/x", 0), KEYS.step_sent("p/x", 0)}
    assert untaken_step(KEYS, PAIR, records, image_steps=1) is None
    records |= {KEYS.result_record("p/x", 0)}
    assert untaken_step(KEYS, PAIR, records, image_steps=1) == KEYS.result_record("p/x", 0)
