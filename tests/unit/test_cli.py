"""The command line's shape: `pivfleet schema`, and flags that mean the same thing in `run` and
`submit` spelled the same way."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from pivfleet.algorithms.registry import available_algorithms
from pivfleet.cli import options
from pivfleet.cli.main import build_parser, main
from pivfleet.core.spec import RunSpec
from tests.doc_commands import subcommands, visible_flags


def command_parser(name: str) -> argparse.ArgumentParser:
    return subcommands()[name]


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


EXAMPLE_SPECS = Path(__file__).resolve().parents[2] / "examples" / "c_algorithm"


def test_schema_prints_the_algorithm_spec_schema_the_example_meets(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["schema", "--algorithm-spec"]) == 0
    schema = json.loads(capsys.readouterr().out)
    example = yaml.safe_load((EXAMPLE_SPECS / "algorithm.cwl.yml").read_text())
    jsonschema.validate(example, schema)
    with pytest.raises(jsonschema.ValidationError, match="baseCommandz"):
        jsonschema.validate({**example, "baseCommandz": ["x"]}, schema)


def test_algorithms_lists_plugins_and_the_wrapped_executables(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIVFLEET_ALGORITHM_SPECS", str(EXAMPLE_SPECS))
    assert main(["algorithms"]) == 0
    listed = {
        n: rest for n, *rest in (line.split("\t") for line in capsys.readouterr().out.splitlines())
    }
    assert listed["windef"] == ["vectors", "plugin"]
    assert listed["blockmatch"][0] == "vectors"
    assert listed["blockmatch"][1].startswith("wrapped executable")
    monkeypatch.setenv("PIVFLEET_ALGORITHM_SPECS", str(EXAMPLE_SPECS.parent / "two_step"))
    assert main(["algorithms"]) == 0
    assert "background\timage step\twrapped executable" in capsys.readouterr().out


def test_param_flags_become_algorithm_parameters() -> None:
    args = build_parser().parse_args(
        ["run", "in", "--out", "out", "--param", "radius=3", "--param", "mode=fast,x"]
    )
    spec = options.build_spec(args, run="r", workers=1)
    assert spec.algorithm_parameters == {"radius": 3, "mode": "fast,x"}


def test_a_parameter_the_algorithm_refuses_stops_the_run_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "in").mkdir()
    code = main(["run", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--param", "x=1"])
    assert code == 2
    assert "windef takes its settings from 'piv'; unknown ['x']" in capsys.readouterr().err
