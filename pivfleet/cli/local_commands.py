"""Commands on this machine alone: `pivfleet run` (the embedded run), `pivfleet samples`,
`pivfleet schema` and `pivfleet algorithms`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from pivfleet.cli import options
from pivfleet.cli.samples import copy_samples
from pivfleet.core.cost import describe_cost
from pivfleet.core.errors import SettingsError
from pivfleet.core.machine import available_cores

EXIT_OK, EXIT_SOME_FAILED = 0, 1
WORKERS_PER_CORE_MAX = 4


def command_run(args: argparse.Namespace) -> int:
    from pivfleet.cli.embedded import EmbeddedRun
    from pivfleet.cloud.config import algorithm_specs, program_environment, worker_size

    workers, threads = check_workers(args.workers), check_threads(args.threads)
    spec = options.build_spec(args, run=args.run or "local", workers=workers)
    run = EmbeddedRun(
        spec, Path(args.input), Path(args.out), workers, args.replace, threads, worker_size(),
        algorithm_specs(), program_environment(),
    )  # fmt: skip
    summary = run.execute()
    print(
        f"{summary.pairs_done} done, {summary.pairs_partial} partial, "
        f"{summary.pairs_failed} failed of {summary.pairs_total} pairs "
        f"({summary.tiles} tiles, {summary.wall_seconds} s); "
        f"summary in {Path(args.out) / 'summary.json'}"
    )
    if summary.usage is not None and summary.cost is not None:
        print(describe_cost(summary.usage.total, summary.cost))
    return EXIT_OK if summary.status == "done" else EXIT_SOME_FAILED


def check_workers(requested: int | None) -> int:
    """`--workers`: all cores when absent; refused outside 1 … 4 × the cores (more processes
    than that only add memory and switching, not speed)."""
    cores = available_cores()
    if requested is None:
        return cores
    most = WORKERS_PER_CORE_MAX * cores
    if not 1 <= requested <= most:
        raise SettingsError(
            f"--workers {requested}: use 1 to {most} ({WORKERS_PER_CORE_MAX} × the {cores} "
            "cores here), or leave it out for one per core"
        )
    return requested


def check_threads(requested: int) -> int:
    """`--threads`: each worker process's engine threads (one: workers scale by process)."""
    cores = available_cores()
    if not 1 <= requested <= cores:
        raise SettingsError(
            f"--threads {requested}: use 1 to {cores} (the cores here); more workers "
            "(--workers) use the cores better unless one pair is all there is"
        )
    return requested


def command_samples(args: argparse.Namespace) -> int:
    written = copy_samples(Path(args.folder))
    print(f"copied {len(written)} frames of OpenPIV's sample pairs to {args.folder}")
    return EXIT_OK


def command_schema(args: argparse.Namespace) -> int:
    if args.algorithm_spec:
        from pivfleet.core.algorithm_spec import spec_schema

        print(spec_schema())
        return EXIT_OK
    from pivfleet.core.spec import RunSpec

    print(json.dumps(RunSpec.model_json_schema(), indent=2))
    return EXIT_OK


def command_algorithms(args: argparse.Namespace) -> int:
    """The algorithms this machine can run: installed plugins and the wrapped executables of
    PIVFLEET_ALGORITHM_SPECS."""
    from pivfleet.algorithms.registry import available_algorithms, makes_images, use_specs
    from pivfleet.cloud.config import algorithm_specs

    folder = algorithm_specs()
    wrapped = set(use_specs(folder))
    for name in available_algorithms():
        source = f"wrapped executable ({folder})" if name in wrapped else "plugin"
        print(f"{name}\t{'image step' if makes_images(name) else 'vectors'}\t{source}")
    return EXIT_OK


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = commands.add_parser("run", help="process a folder of image pairs on this machine")
    run.add_argument("input", help="folder of frames")
    run.add_argument("--out", required=True, help="folder for results (outside INPUT)")
    run.add_argument("--workers", type=int, help="processes (default: all cores)")
    run.add_argument(
        "--threads", type=int, default=1, help="engine threads per worker process (default 1)"
    )
    run.add_argument("--run", help="run name recorded in the outputs (default: local)")
    run.add_argument(
        "--replace", action="store_true", help="replace an earlier run's results in --out"
    )
    options.add_run_options(run)
    run.set_defaults(handler=command_run)
    samples = commands.add_parser("samples", help="copy OpenPIV's sample pairs into a folder")
    samples.add_argument("folder")
    samples.set_defaults(handler=command_samples)
    schema = commands.add_parser("schema", help="print run.json's JSON Schema")
    schema.add_argument(
        "--algorithm-spec",
        action="store_true",
        help="print the algorithm spec's (a CWL CommandLineTool subset) JSON Schema instead",
    )
    schema.set_defaults(handler=command_schema)
    algorithms = commands.add_parser(
        "algorithms", help="list the algorithms installed here and in PIVFLEET_ALGORITHM_SPECS"
    )
    algorithms.set_defaults(handler=command_algorithms)
