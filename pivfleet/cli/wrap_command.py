"""`pivfleet wrap SPEC`: an algorithm spec (a wrapped executable) turned into the build context
of its worker image; `--check` runs the spec once on a sample pair on this machine instead;
`--build` (and `--push REGISTRY`) builds (and pushes) the image through the Docker SDK."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pivfleet.cli import options
from pivfleet.core.errors import (
    AlgorithmError,
    PermanentJobError,
    RetryableJobError,
    SettingsError,
)
from pivfleet.core.spec import PivSettings
from pivfleet.core.vectors import FLAG_MISSING, FLAG_REPLACED, FLAG_VALID, Vectors

if TYPE_CHECKING:
    from pivfleet.cloud.image_builder import EngineClient
    from pivfleet.core.algorithm_spec import AlgorithmSpec
    from pivfleet.core.imaging import Frame

DEFAULT_OUT = Path("build/wrap")
"""Where contexts go by default, one folder per algorithm: build/ is ignored by git."""
SAMPLE_PAIR = "test1"
"""OpenPIV's sample pair the check runs on (`pivfleet samples` copies it too)."""
EXIT_OK = 0


def command_wrap(args: argparse.Namespace) -> int:
    spec_path = check_arguments(args)
    if args.check:
        print(check_spec(spec_path, dict(args.parameters)))
        return EXIT_OK
    from pivfleet.algorithms.build_context import Checkout, write_build_context
    from pivfleet.core.algorithm_spec import read_spec

    out = Path(args.out) if args.out else DEFAULT_OUT / read_spec(spec_path).name
    context = write_build_context(spec_path, out, compose_context(out), Checkout.running())
    print(f"wrote {out}: Dockerfile (FROM {context.image}), compose.override.yml, specs/, runtime/")
    if args.build or args.push:
        from pivfleet.cloud.image_builder import connect_engine, default_tag

        tag = args.tag or default_tag(context.image, Checkout.running().version)
        image = WrappedImage(context.spec.name, tag, args.push)
        build_wrapped_image(connect_engine(context.folder), context.folder, image, print)
    return EXIT_OK


def check_arguments(args: argparse.Namespace) -> Path:
    """The spec's path, once it exists and the flags agree."""
    spec_path = Path(args.spec)
    if not spec_path.is_file():
        raise SettingsError(f"{spec_path}: no such file (the algorithm spec, a .cwl.yml)")
    if args.check and (args.out or args.build or args.push or args.tag):
        raise SettingsError(
            "--check runs the spec here and writes nothing: give --out, --build, --push and "
            "--tag without it"
        )
    if args.parameters and not args.check:
        raise SettingsError("--param sets a parameter for --check; a run takes its own")
    return spec_path


def compose_context(out: Path) -> str:
    """`out` as the compose override names it: relative to this folder (where
    docker-compose.yml is expected), or absolute when outside it."""
    resolved, here = out.resolve(), Path.cwd().resolve()
    return str(resolved.relative_to(here)) if resolved.is_relative_to(here) else str(resolved)


@dataclass(frozen=True)
class WrappedImage:
    """The worker image to build: `[registry/]pivfleet-worker-<name>:<tag>`."""

    name: str
    tag: str
    registry: str | None


def build_wrapped_image(
    client: EngineClient, folder: Path, image: WrappedImage, say: Callable[[str], None]
) -> str:
    """Build the context in `folder` (and push it when a registry is given); its reference."""
    from pivfleet.cloud.image_builder import build_image, image_reference, push_image

    reference = image_reference(image.name, image.registry, image.tag)
    build_image(client, folder, reference, say)
    if image.registry:
        push_image(client, reference, say)
    say(f"{'pushed' if image.registry else 'built'} {reference}")
    return reference


def check_spec(spec_path: Path, parameters: dict[str, Any]) -> str:
    """Run the spec once on OpenPIV's sample pair, through the same runtime as a worker; the
    report, or the runtime's error as an AlgorithmError."""
    from pivfleet.core.algorithm_spec import parameter_values, read_spec

    spec = read_spec(spec_path)
    try:
        parameter_values(spec, parameters)
    except ValueError as error:
        raise SettingsError(f"--param: {error}") from None
    frames, started = sample_pair(), time.perf_counter()
    try:
        report = run_once(spec, str(spec_path), frames, parameters)
    except (PermanentJobError, RetryableJobError) as error:
        raise AlgorithmError(f"{spec.name} failed on the sample pair: {error}") from None
    rows, cols = frames[0].shape[:2]
    where = f"OpenPIV's sample pair {SAMPLE_PAIR} ({rows} × {cols} px)"
    return f"{spec.name} ran on {where} in {time.perf_counter() - started:.1f} s\n{report}"


def sample_pair() -> tuple[Frame, Frame]:
    from pivfleet.cli.samples import sample_frames
    from pivfleet.core.imaging import as_double, read_frame

    first, second = sample_frames(SAMPLE_PAIR)
    return as_double(read_frame(str(first))), as_double(read_frame(str(second)))


def run_once(
    spec: AlgorithmSpec, source: str, frames: tuple[Frame, Frame], parameters: dict[str, Any]
) -> str:
    """An image step's frames, or an algorithm's vectors with the default `piv` settings."""
    from pivfleet.algorithms.executable import ExecutableAlgorithm, use_program_environment
    from pivfleet.algorithms.executable_step import ExecutableImageStep
    from pivfleet.cloud.config import program_environment

    use_program_environment(program_environment())  # as a worker runs it
    if spec.makes_images:
        step = ExecutableImageStep(spec, source)
        return describe_frames(step.process_images(*frames, parameters))
    algorithm = ExecutableAlgorithm(spec, source)
    return describe_vectors(algorithm.process(*frames, PivSettings(), parameters))


def describe_frames(frames: tuple[Frame, Frame]) -> str:
    """An image step's output frames: their shape and grey levels."""
    return "\n".join(
        f"{name}: {frame.shape[0]} × {frame.shape[1]} px, grey levels {np.min(frame):.4g} "
        f"to {np.max(frame):.4g} (mean {np.mean(frame):.4g})"
        for name, frame in zip(("frame_a", "frame_b"), frames, strict=True)
    )


def describe_vectors(vectors: Vectors) -> str:
    """The grid, the median displacement and the valid vectors, at the default settings."""
    piv, (rows, cols) = PivSettings(), vectors.u.shape
    counts = {flag: int((vectors.flags == flag).sum()) for flag in (FLAG_VALID, FLAG_REPLACED)}
    missing = int((vectors.flags == FLAG_MISSING).sum())
    median_u, median_v = (float(np.nanmedian(a)) if np.isfinite(a).any() else np.nan
                          for a in (vectors.u, vectors.v))  # fmt: skip
    return (
        f"grid {rows} × {cols} (window {piv.windows[-1]}, step {piv.steps[-1]} px)\n"
        f"median u {median_u:.3f}, v {median_v:.3f} px per frame (v positive down)\n"
        f"{counts[FLAG_VALID]} of {rows * cols} vectors valid "
        f"({counts[FLAG_REPLACED]} replaced, {missing} missing)"
    )


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    wrap = commands.add_parser(
        "wrap",
        help="write the worker image's build context for an algorithm spec (a wrapped "
        "executable); --check runs it once here, --build builds it",
    )
    wrap.add_argument("spec", help="the algorithm spec (a CWL CommandLineTool, YAML or JSON)")
    wrap.add_argument("--out", help=f"the build context's folder (default: {DEFAULT_OUT}/<id>)")
    wrap.add_argument(
        "--check",
        action="store_true",
        help="validate the spec and run it once on a sample pair on this machine; write nothing",
    )
    wrap.add_argument("--build", action="store_true", help="build the image (Docker SDK)")
    wrap.add_argument("--push", metavar="REGISTRY", help="build, then push to REGISTRY")
    wrap.add_argument(
        "--tag", help="the image's tag (default: <program image's tag>-pivfleet<version>)"
    )
    wrap.add_argument(
        "--param",
        dest="parameters",
        type=options.parameter,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a parameter for --check (as run.json's algorithm_parameters); repeat for more",
    )
    wrap.set_defaults(handler=command_wrap)
