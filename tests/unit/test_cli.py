"""The command line's shape: `pivfleet schema`, and flags that mean the same thing in `run` and
`submit` spelled the same way."""

from __future__ import annotations

import argparse
import json

import pytest

from pivfleet.algorithms.registry import available_algorithms
from pivfleet.cli import options
from pivfleet.cli.main import build_parser, main
from pivfleet.core.spec import RunSpec


def command_parser(name: str) -> argparse.ArgumentParser:
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return commands.choices[name]


def visible_flags(parser: argparse.ArgumentParser) -> set[str]:
    return {
        flag
        for action in parser._actions
        if action.help != argparse.SUPPRESS
        for flag in action.option_strings
    }


def test_schema_prints_the_run_spec_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    printed = capsys.readouterr().out
    assert json.loads(printed) == RunSpec.model_json_schema()
    assert printed.startswith('{\n  "')  # indented for a reader, not one long line


def test_every_submit_flag_is_spelt_as_in_run() -> None:
    """A setting both commands take has one name; only run has --out and --threads."""
    run, submit = visible_flags(command_parser("run")), visible_flags(command_parser("submit"))
    assert submit - run == set()
    assert run - submit == {"--out", "--threads"}


def test_submit_workers_reaches_the_spec() -> None:
    args = build_parser().parse_args(["submit", "in", "--run", "r", "--workers", "8"])
    assert options.build_spec(args, run=args.run, workers=args.workers).workers == 8
    assert build_parser().parse_args(["submit", "in", "--run", "r"]).workers == 16


def test_expected_workers_still_works_and_says_it_is_deprecated(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = build_parser().parse_args(["submit", "in", "--run", "r", "--expected-workers", "8"])
    assert args.workers == 8
    assert "--expected-workers is deprecated; use --workers" in capsys.readouterr().err
    assert "--expected-workers" not in command_parser("submit").format_help()


@pytest.mark.parametrize("command", ["run", "submit"])
def test_algorithm_help_names_the_installed_algorithms(command: str) -> None:
    text = " ".join(command_parser(command).format_help().split())  # help wraps lines
    assert f"installed here: {', '.join(available_algorithms())}" in text
    assert "windef" in available_algorithms()
