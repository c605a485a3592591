"""The options `pivfleet run` and `pivfleet submit` share, and the RunSpec they build."""

from __future__ import annotations

import argparse
import json
from typing import Any

from pydantic import BaseModel

from pivfleet.core.calibration import Calibration
from pivfleet.core.errors import SettingsError
from pivfleet.core.spec import (
    MAX_FRAME_PIXELS_DEFAULT,
    ImageStep,
    Outputs,
    Pairing,
    PivSettings,
    RunSpec,
    describe_validation,
)


def number_list(kind: type) -> Any:
    def parse(text: str) -> tuple[Any, ...]:
        try:
            return tuple(kind(part) for part in text.split(","))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r}: give comma-separated numbers, e.g. 64,32,16"
            ) from None

    return parse


def number_range(text: str) -> tuple[float, float]:
    """`MIN,MAX` in pixels; `=` joins a negative minimum to its flag (`--u-range=-20,20`)."""
    values = number_list(float)(text)
    if len(values) != 2:
        raise argparse.ArgumentTypeError(f"{text!r}: give MIN,MAX in pixels, e.g. -20,20")
    return (values[0], values[1])


def setting_flags() -> dict[str, str]:
    """Each PIV and calibration setting's command-line flag, so errors name what the user
    typed."""
    parser = argparse.ArgumentParser()
    add_piv_options(parser)
    add_calibration_options(parser)
    return {a.dest: a.option_strings[0] for a in parser._actions if a.option_strings}


def parameter(text: str) -> tuple[str, Any]:
    """`NAME=VALUE`: a JSON value (a number, true, false, null, a list) or else a string."""
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"{text!r}: give NAME=VALUE, e.g. --param window=32")
    try:
        return name, json.loads(value)
    except ValueError:
        return name, value


def image_step(text: str) -> ImageStep:
    """`ALGORITHM[:NAME=VALUE,…]`: an image step and its parameters (values as --param's)."""
    algorithm, _, listed = text.partition(":")
    try:
        pairs = [parameter(item) for item in listed.split(",") if item]
        return ImageStep(algorithm=algorithm, parameters=dict(pairs))
    except (argparse.ArgumentTypeError, ValueError) as error:
        raise argparse.ArgumentTypeError(
            f"--step {text!r}: {error}; give ALGORITHM or ALGORITHM:NAME=VALUE,NAME=VALUE, "
            "e.g. --step background:radius=7"
        ) from None


def tiling_choice(text: str) -> str | int:
    if text in ("auto", "none"):
        return text
    if text.isdigit():
        return int(text)
    raise argparse.ArgumentTypeError(
        f"{text!r}: use auto, none, or a tile size in pixels (e.g. 512)"
    )


def add_piv_options(parser: argparse.ArgumentParser) -> None:
    """PIV settings, one flag each; unset flags keep PivSettings' defaults."""
    group = parser.add_argument_group("PIV settings (OpenPIV windef)")
    add = group.add_argument
    add(
        "--engine",
        choices=["openpiv", "fast"],
        help="openpiv: OpenPIV's functions (default, the reference); fast: pivfleet's kernel, "
        "the same settings and accuracy, 6-10x faster per core",
    )
    add("--windows", type=number_list(int), help="window size per pass, px (default 64,32,16)")
    add(
        "--overlap",
        dest="overlaps",
        type=number_list(int),
        help="overlap per pass, px (default 32,16,8)",
    )
    add("--subpixel", dest="subpixel_method", choices=["gaussian", "centroid", "parabolic"])
    add("--correlation", dest="correlation_method", choices=["circular", "linear"])
    add("--normalized-correlation", action="store_true", default=None)
    add("--deformation", dest="deformation_method", choices=["symmetric", "second image"])
    add("--interpolation-order", type=int, help="image interpolation order for deformation (1-5)")
    add("--sig2noise", dest="sig2noise_method", choices=["peak2peak", "peak2mean"])
    add("--sig2noise-threshold", type=float, help="minimum signal-to-noise ratio (default 1.0)")
    add("--no-sig2noise-validation", dest="sig2noise_validate", action="store_false", default=None)
    add("--u-range", dest="min_max_u_disp", type=number_range, help="valid u range MIN,MAX px")
    add("--v-range", dest="min_max_v_disp", type=number_range, help="valid v range MIN,MAX px")
    add("--std-threshold", type=float, help="global std test threshold (default 10, as OpenPIV)")
    add("--no-std-test", action="store_true", help="switch the global std test off")
    add("--median-threshold", type=float, help="local median test threshold (default 3)")
    add("--median-size", type=int, help="local median kernel half-size (default 1)")
    add(
        "--normalized-median", dest="median_normalized", action="store_true", default=None,
        help="Westerweel & Scarano's normalised median test (use --median-threshold 2)",
    )  # fmt: skip
    add("--median-epsilon", type=float, help="normalised median noise floor, px (default 0.1)")
    add("--replace-method", dest="filter_method", choices=["localmean", "disk", "distance"])
    add("--replace-iterations", dest="max_filter_iteration", type=int)
    add("--replace-kernel", dest="filter_kernel_size", type=int)
    add("--no-replace", dest="replace_vectors", action="store_false", default=None)


def algorithm_help() -> str:
    """Names the algorithms installed here: entry points are read without loading any plugin."""
    from pivfleet.algorithms.registry import available_algorithms

    installed = ", ".join(available_algorithms()) or "none"
    return f"the algorithm to run (default windef; installed here: {installed})"


def add_calibration_options(parser: argparse.ArgumentParser) -> None:
    """`calibration` in run.json; without it outputs stay in pixels per frame pair."""
    group = parser.add_argument_group("calibration (outputs in metres and m/s)")
    add = group.add_argument
    add("--dt", type=float, help="seconds between frame A and frame B: velocities per second")
    add("--pixel-size", type=float, help="metres per pixel: lengths and velocities in metres")
    add("--scaling-factor", type=float, help="pixels per metre (OpenPIV's), not with --pixel-size")
    add("--origin", type=number_range, help="X,Y pixels (x right, y up) that become 0,0 m")
    add("--pair-interval", type=float, help="seconds between pairs: the run dataset's time axis")
    add("--start-time", help="ISO 8601 time of the first pair: times become seconds since it")


def add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tiling", type=tiling_choice, default="auto", help="auto, none, or PIXELS"
    )
    parser.add_argument(
        "--pairing",
        choices=["suffix", "sequential", "cascade"],
        default="suffix",
        help="suffix: NAME_a/NAME_b or NAMEA/NAMEB; sequential 1-2, 3-4; cascade 1-2, 2-3",
    )
    parser.add_argument("--algorithm", default="windef", help=algorithm_help())
    parser.add_argument(
        "--param",
        dest="parameters",
        type=parameter,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an algorithm parameter (run.json's algorithm_parameters); repeat for more",
    )
    parser.add_argument(
        "--step",
        dest="steps",
        type=image_step,
        action="append",
        default=[],
        metavar="ALGORITHM[:NAME=VALUE,…]",
        help="an image step run on each pair before --algorithm (run.json's steps), in order",
    )
    parser.add_argument(
        "--plot", action="store_true", help="a PNG per pair (arrows over speed) and the run's mean"
    )
    parser.add_argument(
        "--no-dataset", dest="dataset", action="store_false", help="no run.nc (all pairs in time)"
    )
    parser.add_argument(
        "--max-frame-pixels",
        type=int,
        default=MAX_FRAME_PIXELS_DEFAULT,
        help="refuse frames above this many pixels, read from their header (default 50000000)",
    )
    add_piv_options(parser)
    add_calibration_options(parser)


def build_spec(args: argparse.Namespace, run: str, workers: int) -> RunSpec:
    """One RunSpec from the flags; pydantic names a bad setting, we add the flag."""
    from pydantic import ValidationError

    piv = given(args, PivSettings)
    if args.no_std_test:
        piv["std_threshold"] = None
    try:
        return RunSpec(
            run=run, algorithm=args.algorithm, piv=PivSettings(**piv), tiling=args.tiling,
            algorithm_parameters=dict(args.parameters), steps=args.steps,
            pairing=Pairing(mode=args.pairing), workers=workers,
            outputs=Outputs(plot=args.plot, dataset=args.dataset),
            calibration=Calibration(**given(args, Calibration)),
            max_frame_pixels=args.max_frame_pixels,
        )  # fmt: skip
    except ValidationError as error:
        flags = {**setting_flags(), "max_frame_pixels": "--max-frame-pixels"}
        raise SettingsError(describe_validation(error, flags)) from None


def given(args: argparse.Namespace, model: type[BaseModel]) -> dict[str, Any]:
    """The flags the user gave for `model`'s fields (unset flags keep its defaults)."""
    return {k: v for k, v in vars(args).items() if k in model.model_fields and v is not None}
