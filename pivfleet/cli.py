"""The `pivfleet` command line."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from pivfleet import cli_run
from pivfleet.errors import PivfleetError

EXIT_OK, EXIT_SOME_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def command_run(args: argparse.Namespace) -> int:
    from pivfleet.local_run import LocalRun

    workers = args.workers or cli_run.default_workers()
    spec = cli_run.build_spec(args, run=args.run or "local", workers=workers)
    summary = LocalRun(spec, Path(args.input), Path(args.out), workers).execute()
    print(
        f"{summary.pairs_done} done, {summary.pairs_partial} partial, "
        f"{summary.pairs_failed} failed of {summary.pairs_total} pairs "
        f"({summary.tiles} tiles, {summary.wall_seconds} s); "
        f"summary in {Path(args.out) / 'summary.json'}"
    )
    return EXIT_OK if summary.status == "done" else EXIT_SOME_FAILED


def command_samples(args: argparse.Namespace) -> int:
    written = cli_run.copy_samples(Path(args.folder))
    print(f"copied {len(written)} frames of OpenPIV's sample pairs to {args.folder}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pivfleet", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="process a folder of image pairs on this machine")
    run.add_argument("input", help="folder of frames")
    run.add_argument("--out", required=True, help="folder for results (outside INPUT)")
    run.add_argument("--workers", type=int, help="processes (default: all cores)")
    run.add_argument("--run", help="run name recorded in the outputs (default: local)")
    cli_run.add_run_options(run)
    run.set_defaults(handler=command_run)
    samples = commands.add_parser("samples", help="copy OpenPIV's sample pairs into a folder")
    samples.add_argument("folder")
    samples.set_defaults(handler=command_samples)
    from pivfleet import cli_cloud

    cli_cloud.add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except PivfleetError as error:
        print(f"pivfleet: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as error:
        if not type(error).__module__.startswith("botocore"):
            raise
        print(
            f"pivfleet: error: AWS call failed: {error}. Check AWS_ENDPOINT_URL, AWS_REGION "
            "and credentials, and that `pivfleet bootstrap` has run.",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130


def print_json(data: object) -> None:
    print(json.dumps(data, indent=2, default=str))


if __name__ == "__main__":
    sys.exit(main())
