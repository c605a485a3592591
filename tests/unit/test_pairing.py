"""Pairing frame names into (A, B) pairs by suffix, in sequence, or as a cascade."""

from __future__ import annotations

import pytest

from pivfleet.core.errors import PairingError
from pivfleet.core.pairing import FramePair, natural_key, pair_frames
from pivfleet.core.spec import Pairing

SUFFIX = Pairing(mode="suffix")
SEQUENTIAL = Pairing(mode="sequential")
CASCADE = Pairing(mode="cascade")


def as_tuples(pairs: list[FramePair]) -> list[tuple[str, str, str]]:
    return [(p.name, p.frame_a, p.frame_b) for p in pairs]


def test_default_pairing_is_suffix() -> None:
    assert Pairing().mode == "suffix"


def test_suffix_underscore_a_b() -> None:
    names = ["exp1_b.tif", "exp1_a.tif", "exp2_a.tif", "exp2_b.tif"]
    assert as_tuples(pair_frames(names, SUFFIX)) == [
        ("exp1", "exp1_a.tif", "exp1_b.tif"),
        ("exp2", "exp2_a.tif", "exp2_b.tif"),
    ]


def test_suffix_capital_a_b() -> None:
    names = ["Pattern_1_B.tif", "Pattern_1_A.tif", "Pattern_2_A.tif", "Pattern_2_B.tif"]
    assert as_tuples(pair_frames(names, SUFFIX)) == [
        ("Pattern_1", "Pattern_1_A.tif", "Pattern_1_B.tif"),
        ("Pattern_2", "Pattern_2_A.tif", "Pattern_2_B.tif"),
    ]


def test_suffix_letters_without_separator() -> None:
    names = ["runB.png", "runA.png"]
    assert as_tuples(pair_frames(names, SUFFIX)) == [("run", "runA.png", "runB.png")]


def test_suffix_dash_a_b() -> None:
    names = ["cam-0001-a.bmp", "cam-0001-b.bmp"]
    assert as_tuples(pair_frames(names, SUFFIX)) == [
        ("cam-0001", "cam-0001-a.bmp", "cam-0001-b.bmp")
    ]


def test_suffix_extension_case_does_not_split_a_pair() -> None:
    names = ["x_a.TIF", "x_b.tif"]
    assert as_tuples(pair_frames(names, SUFFIX)) == [("x", "x_a.TIF", "x_b.tif")]


def test_suffix_pairs_within_subfolders_and_keeps_them_in_the_name() -> None:
    names = ["day1/p_a.tif", "day2/p_b.tif", "day1/p_b.tif", "day2/p_a.tif"]
    assert as_tuples(pair_frames(names, SUFFIX)) == [
        ("day1/p", "day1/p_a.tif", "day1/p_b.tif"),
        ("day2/p", "day2/p_a.tif", "day2/p_b.tif"),
    ]


def test_suffix_does_not_pair_across_subfolders() -> None:
    with pytest.raises(PairingError) as error:
        pair_frames(["day1/p_a.tif", "day2/p_b.tif"], SUFFIX)
    assert "day1/p_a.tif" in str(error.value) and "day2/p_b.tif" in str(error.value)


def test_suffix_pairs_in_natural_order() -> None:
    names = [f"frame_{i}_{x}.tif" for i in (10, 2, 1) for x in "ab"]
    assert [p.name for p in pair_frames(names, SUFFIX)] == ["frame_1", "frame_2", "frame_10"]


def test_non_image_files_are_ignored() -> None:
    names = ["x_a.tif", "x_b.tif", "notes.txt", "run.json", "x_c.csv", "Thumbs.db", "tif"]
    assert as_tuples(pair_frames(names, SUFFIX)) == [("x", "x_a.tif", "x_b.tif")]


def test_unpaired_frame_in_suffix_mode_names_it_and_the_fix() -> None:
    names = ["x_a.tif", "x_b.tif", "y_a.tif"]
    with pytest.raises(PairingError) as error:
        pair_frames(names, SUFFIX)
    message = str(error.value)
    assert "y_a.tif" in message
    assert "x_a.tif" not in message
    assert "NAME_a/NAME_b" in message
    assert "--pairing sequential" in message and "--pairing cascade" in message


def test_frame_without_any_letter_is_reported_in_suffix_mode() -> None:
    with pytest.raises(PairingError) as error:
        pair_frames(["x_a.tif", "x_b.tif", "frame_0007.tif"], SUFFIX)
    assert "frame_0007.tif" in str(error.value)


def test_single_frame_in_suffix_mode_is_unpaired() -> None:
    with pytest.raises(PairingError, match=r"only_a\.tif"):
        pair_frames(["only_a.tif"], SUFFIX)


def test_sequential_pairs_one_two_three_four_in_natural_order() -> None:
    names = [f"img{i}.tif" for i in (10, 1, 3, 2, 4, 9, 5, 6, 7, 8)]
    assert as_tuples(pair_frames(names, SEQUENTIAL)) == [
        ("img1", "img1.tif", "img2.tif"),
        ("img3", "img3.tif", "img4.tif"),
        ("img5", "img5.tif", "img6.tif"),
        ("img7", "img7.tif", "img8.tif"),
        ("img9", "img9.tif", "img10.tif"),
    ]


def test_cascade_pairs_one_two_two_three() -> None:
    names = ["f_3.png", "f_1.png", "f_2.png", "f_10.png"]
    assert as_tuples(pair_frames(names, CASCADE)) == [
        ("f_1", "f_1.png", "f_2.png"),
        ("f_2", "f_2.png", "f_3.png"),
        ("f_3", "f_3.png", "f_10.png"),
    ]


def test_sequential_ignores_non_images() -> None:
    names = ["a1.tif", "readme.md", "a2.tif"]
    assert as_tuples(pair_frames(names, SEQUENTIAL)) == [("a1", "a1.tif", "a2.tif")]


def test_odd_count_in_sequential_names_the_leftover_and_the_fix() -> None:
    names = ["f1.tif", "f2.tif", "f3.tif"]
    with pytest.raises(PairingError) as error:
        pair_frames(names, SEQUENTIAL)
    message = str(error.value)
    assert "3 frames" in message
    assert "f3.tif" in message
    assert "--pairing cascade" in message


@pytest.mark.parametrize("rule", [SUFFIX, SEQUENTIAL, CASCADE], ids=lambda r: r.mode)
def test_no_images_is_an_error_naming_the_formats(rule: Pairing) -> None:
    with pytest.raises(PairingError) as error:
        pair_frames(["notes.txt", "run.json"], rule)
    message = str(error.value)
    assert "no image files" in message
    assert ".tif" in message and ".png" in message


@pytest.mark.parametrize("rule", [SUFFIX, SEQUENTIAL, CASCADE], ids=lambda r: r.mode)
def test_empty_folder_is_an_error(rule: Pairing) -> None:
    with pytest.raises(PairingError, match="no image files"):
        pair_frames([], rule)


@pytest.mark.parametrize("rule", [SEQUENTIAL, CASCADE], ids=lambda r: r.mode)
def test_single_frame_in_sequence_modes_is_an_error(rule: Pairing) -> None:
    with pytest.raises(PairingError) as error:
        pair_frames(["lonely.tif"], rule)
    assert "lonely.tif" in str(error.value)
    assert "two frames" in str(error.value)


def test_natural_key_orders_numbers_numerically() -> None:
    names = ["frame_10.tif", "frame_2.tif", "Frame_1.tif", "frame_02b.tif"]
    assert sorted(names, key=natural_key) == [
        "Frame_1.tif",
        "frame_2.tif",
        "frame_02b.tif",
        "frame_10.tif",
    ]


@pytest.mark.parametrize(
    "names",
    [
        ["x_a.tif", "x_b.tif", "x-a.tif", "x-b.tif"],
        ["x_a.tif", "x_b.tif", "x_a.png", "x_b.png"],
        ["xA.tif", "xB.tif", "x_a.tif", "x_b.tif"],
    ],
)
def test_distinct_pairs_never_share_an_output_name(names: list[str]) -> None:
    try:
        pairs = pair_frames(names, SUFFIX)
    except PairingError:
        return  # refusing the ambiguous folder is an acceptable answer
    assert len({p.name for p in pairs}) == len(pairs), as_tuples(pairs)
