"""RunSpec and PivSettings validation: bad settings are refused with the field and the fix."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pydantic import ValidationError

from pivfleet.core.spec import Outputs, Pairing, PivSettings, RunSpec


def error_text(error: pytest.ExceptionInfo[ValidationError]) -> str:
    return str(error.value)


def test_defaults_are_openpivs_three_pass_schedule() -> None:
    piv = PivSettings()
    assert piv.windows == (64, 32, 16)
    assert piv.overlaps == (32, 16, 8)
    assert piv.steps == (32, 16, 8)
    assert piv.grid_alignment == 32


def test_windows_that_grow_name_the_pass_and_the_fix() -> None:
    with pytest.raises(ValidationError) as error:
        PivSettings(windows=(32, 64, 16), overlaps=(16, 32, 8))
    text = error_text(error)
    assert "pass 1" in text
    assert "64" in text and "32" in text
    assert "largest first" in text


def test_equal_windows_are_allowed() -> None:
    piv = PivSettings(windows=(32, 32, 16), overlaps=(16, 16, 8))
    assert piv.windows == (32, 32, 16)


@pytest.mark.parametrize(("window", "overlap"), [(32, 32), (32, 40), (16, -1)])
def test_overlap_not_below_the_window_is_refused(window: int, overlap: int) -> None:
    with pytest.raises(ValidationError) as error:
        PivSettings(windows=(64, window), overlaps=(32, overlap))
    text = error_text(error)
    assert f"overlaps[1]={overlap}" in text
    assert f"windows[1]={window}" in text
    assert f"({window // 2})" in text


@pytest.mark.parametrize(
    ("windows", "overlaps"), [((64, 32, 16), (32, 16)), ((64, 32), (32, 16, 8)), ((64,), ())]
)
def test_mismatched_lengths_are_refused(
    windows: tuple[int, ...], overlaps: tuple[int, ...]
) -> None:
    with pytest.raises(ValidationError) as error:
        PivSettings(windows=windows, overlaps=overlaps)
    text = error_text(error)
    assert f"windows has {len(windows)} passes but overlaps has {len(overlaps)}" in text
    assert "one overlap per window" in text


def test_windows_given_without_overlaps_do_not_match_the_default_overlaps() -> None:
    with pytest.raises(ValidationError, match="one overlap per window"):
        PivSettings(windows=(48, 24))


def test_no_windows_is_refused() -> None:
    with pytest.raises(ValidationError, match="at least one window"):
        PivSettings(windows=(), overlaps=())


@pytest.mark.parametrize("window", [7, 4, 0])
def test_windows_below_eight_pixels_are_refused(window: int) -> None:
    with pytest.raises(ValidationError) as error:
        PivSettings(windows=(32, window), overlaps=(16, 0))
    assert f"windows[1]={window}" in error_text(error)
    assert "≥ 8 px" in error_text(error)


def test_eight_pixel_windows_are_allowed() -> None:
    assert PivSettings(windows=(16, 8), overlaps=(8, 4)).steps == (8, 4)


def test_min_max_displacement_must_be_ordered() -> None:
    with pytest.raises(ValidationError, match="min_max_u_disp"):
        PivSettings(min_max_u_disp=(5.0, -5.0))


def test_max_displacement_is_the_largest_bound() -> None:
    piv = PivSettings(min_max_u_disp=(-12.0, 4.0), min_max_v_disp=(-3.0, 20.5))
    assert piv.max_displacement == 20.5


@pytest.mark.parametrize(
    ("windows", "overlaps", "steps", "alignment"),
    [
        ((64, 32, 16), (32, 16, 8), (32, 16, 8), 32),
        ((48, 24), (0, 8), (48, 16), 48),
        ((96, 64), (0, 0), (96, 64), 192),
        ((32, 24, 12), (20, 16, 3), (12, 8, 9), 72),
        ((128,), (127,), (1,), 1),
    ],
)
def test_steps_and_grid_alignment(
    windows: tuple[int, ...], overlaps: tuple[int, ...], steps: tuple[int, ...], alignment: int
) -> None:
    piv = PivSettings(windows=windows, overlaps=overlaps)
    assert piv.steps == steps
    assert piv.grid_alignment == alignment
    assert all(alignment % step == 0 for step in steps)


@pytest.mark.parametrize("run", ["r", "run-2024.01_a", "A" * 128, "0abc"])
def test_good_run_ids(run: str) -> None:
    assert RunSpec(run=run).run == run


@pytest.mark.parametrize("run", ["", "-leading-dash", "has space", "a/b", "../up", "A" * 129, "é"])
def test_bad_run_ids_are_refused(run: str) -> None:
    with pytest.raises(ValidationError) as error:
        RunSpec(run=run)
    assert "run" in error_text(error)


def test_run_id_is_required() -> None:
    with pytest.raises(ValidationError, match="run"):
        RunSpec.model_validate({})


@pytest.mark.parametrize("name", ["windef", "my-algo", "x", "piv2"])
def test_good_algorithm_names(name: str) -> None:
    assert RunSpec(run="r", algorithm=name).algorithm == name


@pytest.mark.parametrize("name", ["WinDef", "my_algo", "-x", "", "a b", "a" * 42])
def test_bad_algorithm_names_name_the_rule(name: str) -> None:
    with pytest.raises(ValidationError) as error:
        RunSpec(run="r", algorithm=name)
    assert "lowercase letters, digits and '-'" in error_text(error)


@pytest.mark.parametrize(
    ("model", "data"),
    [
        (RunSpec, {"run": "r", "colour": "blue"}),
        (PivSettings, {"window": 32}),
        (Pairing, {"mode": "suffix", "glob": "*.tif"}),
        (Outputs, {"csv": True}),
    ],
)
def test_extra_fields_are_refused(model: type, data: dict[str, object]) -> None:
    extra = next(k for k in data if k not in ("run", "mode"))
    with pytest.raises(ValidationError) as error:
        model.model_validate(data)
    assert extra in str(error.value)
    assert "extra" in str(error.value).lower()


def test_extra_field_nested_in_piv_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"piv\.windowz"):
        RunSpec.model_validate({"run": "r", "piv": {"windowz": [64, 32]}})


@pytest.mark.parametrize(("tiling", "expected"), [("auto", "auto"), ("none", "none"), (88, 88)])
def test_tiling_accepts_auto_none_and_sizes(tiling: object, expected: object) -> None:
    assert RunSpec(run="r", tiling=tiling).tiling == expected


@pytest.mark.parametrize(
    ("windows", "overlaps", "least"), [((64, 32, 16), (32, 16, 8), 88), ((32, 16), (16, 8), 56)]
)
def test_a_tile_smaller_than_one_window_and_its_margin_is_refused_naming_the_least(
    windows: tuple[int, ...], overlaps: tuple[int, ...], least: int
) -> None:
    piv = PivSettings(windows=windows, overlaps=overlaps)
    assert RunSpec(run="r", piv=piv, tiling=least).tiling == least
    with pytest.raises(ValidationError, match=f"smallest is {least} px.*--tiling {least} or more"):
        RunSpec(run="r", piv=piv, tiling=least - 1)


def test_tiling_accepts_large_sizes() -> None:
    assert RunSpec(run="r", tiling=4096).tiling == 4096


@pytest.mark.parametrize("tiling", [31, 0, -256, "big", "Auto", 256.5])
def test_tiling_refuses_other_values(tiling: object) -> None:
    with pytest.raises(ValidationError, match="tiling"):
        RunSpec(run="r", tiling=tiling)


def test_default_tiling_is_auto() -> None:
    assert RunSpec(run="r").tiling == "auto"


def test_pairing_mode_must_be_known() -> None:
    with pytest.raises(ValidationError, match=r"pairing\.mode"):
        RunSpec.model_validate({"run": "r", "pairing": {"mode": "zip"}})


@pytest.mark.parametrize("workers", [0, -1, 100_001])
def test_workers_out_of_range_are_refused(workers: int) -> None:
    with pytest.raises(ValidationError, match="workers"):
        RunSpec(run="r", workers=workers)


def test_schema_version_and_kind_are_fixed() -> None:
    with pytest.raises(ValidationError, match="schema_version"):
        RunSpec.model_validate({"run": "r", "schema_version": 2})
    with pytest.raises(ValidationError, match="kind"):
        RunSpec.model_validate({"run": "r", "kind": "tile_job"})


def test_models_are_frozen() -> None:
    spec = RunSpec(run="r")
    with pytest.raises(ValidationError):
        spec.run = "other"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        spec.piv.windows = (32,)  # type: ignore[misc]
    with pytest.raises(ValidationError):
        spec.pairing.mode = "cascade"  # type: ignore[misc]


def test_json_round_trip_preserves_every_setting() -> None:
    spec = RunSpec(
        run="exp-7",
        algorithm="windef",
        piv=PivSettings(
            windows=(96, 48, 24),
            overlaps=(48, 24, 12),
            subpixel_method="parabolic",
            sig2noise_method=None,
            std_threshold=7.5,
            min_max_u_disp=(-12.5, 40.0),
        ),
        algorithm_parameters={"gpu": True, "nested": {"k": [1, 2]}},
        pairing=Pairing(mode="cascade"),
        tiling=512,
        workers=3,
        outputs=Outputs(netcdf=False, plot=True),
    )
    text = spec.model_dump_json()
    data = json.loads(text)
    assert data["kind"] == "run_spec" and data["schema_version"] == 1
    assert data["piv"]["windows"] == [96, 48, 24]
    again = RunSpec.model_validate_json(text)
    assert again == spec
    assert again.piv.steps == (48, 24, 12)


def test_json_from_a_hand_written_run_file() -> None:
    text = json.dumps(
        {"run": "lab", "piv": {"windows": [64, 32], "overlaps": [32, 16]}, "tiling": "none"}
    )
    spec = RunSpec.model_validate_json(text)
    assert spec.piv.windows == (64, 32)
    assert spec.tiling == "none"
    assert spec.pairing.mode == "suffix"


def test_bad_schedule_in_run_json_names_the_field_path() -> None:
    text = json.dumps({"run": "lab", "piv": {"windows": [16, 32], "overlaps": [8, 16]}})
    with pytest.raises(ValidationError) as error:
        RunSpec.model_validate_json(text)
    assert "piv" in str(error.value)
    assert "pass 1" in str(error.value)


@pytest.mark.parametrize(
    "piv",
    [
        PivSettings(),
        PivSettings(windows=(32, 16), overlaps=(16, 8)),
        PivSettings(windows=(32, 32), overlaps=(0, 24), interpolation_order=5),
        PivSettings(windows=(64,), overlaps=(32,)),
    ],
)
def test_min_frame_pixels_is_the_smallest_frame_the_engine_processes(piv: PivSettings) -> None:
    """One pixel less fails inside OpenPIV's splines; exactly the minimum runs."""
    from pivfleet.engine.reference import run_passes

    side = piv.min_frame_pixels
    frame = np.random.default_rng(3).random((side, side))
    run_passes(frame, np.roll(frame, 1, axis=1), piv)
    if len(piv.windows) > 1:
        smaller = frame[:-1, :-1]
        with pytest.raises(Exception, match=r"mx>kx|my>ky"):
            run_passes(smaller, np.roll(smaller, 1, axis=1), piv)
