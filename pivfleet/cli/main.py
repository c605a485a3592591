"""The `pivfleet` command line."""

from __future__ import annotations

import argparse
import logging
import sys

from pivfleet.cli import cloud_commands, local_commands
from pivfleet.core.errors import PivfleetError

EXIT_BAD_INPUT, EXIT_INTERRUPTED = 2, 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pivfleet", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    local_commands.add_commands(commands)
    cloud_commands.add_commands(commands)
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
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
