"""The `pivfleet` command line."""

from __future__ import annotations

import argparse
import logging
import sys

from pivfleet.cli import cloud_commands, local_commands, wrap_command
from pivfleet.cli.signals import TerminatedError, sigterm_raises
from pivfleet.core.errors import PivfleetError

EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_TERMINATED = 2, 130, 143
"""130 and 143 are 128 + SIGINT and 128 + SIGTERM, as shells report them."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pivfleet", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    local_commands.add_commands(commands)
    cloud_commands.add_commands(commands)
    wrap_command.add_command(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    args = build_parser().parse_args(argv)
    with sigterm_raises():
        return run_command(args)


def run_command(args: argparse.Namespace) -> int:
    """The command's exit status; what the user gave wrong is one line, never a traceback."""
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
        return EXIT_INTERRUPTED
    except TerminatedError:
        return EXIT_TERMINATED


if __name__ == "__main__":
    sys.exit(main())
