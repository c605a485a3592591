"""A run plan finds a pair by name through an index (a collector looks up every result's pair;
scanning the plan each time made collecting quadratic in pairs), and the index never gives the
wrong pair: not after a copy with changed pairs, not for a name the plan does not hold."""

from __future__ import annotations

import pytest

from pivfleet.core.plan import PairPlan, RunPlan
from pivfleet.core.spec import RunSpec


def plan_of(names: list[str]) -> RunPlan:
    pairs = [PairPlan(name=name, frame_a=f"{name}_a", frame_b=f"{name}_b") for name in names]
    return RunPlan(spec=RunSpec(run="r"), generation="g", pairs=pairs)


class CountedPairs(list[PairPlan]):
    """A plan's pairs that count the pairs read out of them."""

    reads = 0

    def __getitem__(self, index):  # type: ignore[no-untyped-def]
        self.reads += 1
        return super().__getitem__(index)

    def __iter__(self):  # type: ignore[no-untyped-def]
        for pair in super().__iter__():
            self.reads += 1
            yield pair


def test_each_pair_is_found_at_its_position() -> None:
    plan = plan_of([f"p{i:03d}" for i in range(50)])
    for i in (0, 17, 49, 17):
        assert plan.position(f"p{i:03d}") == i
        assert plan.pair(f"p{i:03d}").frame_a == f"p{i:03d}_a"


def test_a_lookup_reads_one_pair_once_the_index_is_made() -> None:
    plan = plan_of([f"p{i:03d}" for i in range(200)])
    plan.pair("p000")  # the index is made once
    counted = CountedPairs(plan.pairs)
    object.__setattr__(plan, "pairs", counted)  # the same pairs, counted from here on
    for name in ("p199", "p100", "p150"):
        plan.pair(name)
    assert counted.reads <= 2 * 3  # the pair, and its name checked: not a scan of 200


def test_a_copy_with_other_pairs_finds_its_own() -> None:
    plan = plan_of(["a", "b", "c"])
    assert plan.position("c") == 2
    reordered = plan.model_copy(update={"pairs": list(reversed(plan.pairs))})
    assert reordered.position("c") == 0 and reordered.pair("a").name == "a"
    assert plan.position("c") == 2 and plan.pair("a").name == "a"
    fewer = plan.model_copy(update={"pairs": plan.pairs[:1]})
    with pytest.raises(KeyError):
        fewer.pair("c")


def test_an_unknown_pair_is_a_key_error() -> None:
    with pytest.raises(KeyError, match="nope"):
        plan_of(["a"]).pair("nope")


def test_plans_with_the_same_pairs_are_equal_whether_looked_into_or_not() -> None:
    looked, fresh = plan_of(["a", "b"]), plan_of(["a", "b"])
    fresh = fresh.model_copy(update={"created_at": looked.created_at})
    looked.pair("b")
    assert looked == fresh
    assert "pair_positions" not in looked.model_dump_json()
