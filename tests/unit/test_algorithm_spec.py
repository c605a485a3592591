"""The algorithm spec (a CWL CommandLineTool subset): the example loads, anything outside the
subset is refused by name, the published JSON Schema accepts the example, and the argument list
follows CWL's order without a shell."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from pivfleet.core.algorithm_spec import (
    AlgorithmSpec,
    argument_list,
    parameter_values,
    parse_spec,
    read_spec,
    spec_schema,
)
from pivfleet.core.errors import SettingsError

EXAMPLE = Path(__file__).parents[2] / "examples" / "c_algorithm" / "algorithm.cwl.yml"


def example() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    return document


def refusal(document: dict[str, Any]) -> str:
    with pytest.raises(SettingsError) as error:
        parse_spec(json.dumps(document), "spec.cwl.json")
    return str(error.value)


def test_the_example_loads_with_what_it_says() -> None:
    spec = read_spec(EXAMPLE)
    assert spec.name == "blockmatch"
    assert spec.timeout_seconds == 300
    assert spec.job.permanent_exit_codes == [64, 65] and spec.job.retry_exit_codes == [75]
    assert (spec.job.tiles, spec.job.halo_pixels) == ("halo", 40)
    assert spec.requirements.docker is not None
    assert spec.requirements.docker.docker_pull == "pivfleet-blockmatch:0.1"
    assert spec.requirements.resources.ram_min == 512
    assert spec.output.format == "pivfleet:openpiv-text"
    assert set(spec.parameters()) == {"search"}


def test_the_published_schema_accepts_the_example_and_refuses_unknown_keys() -> None:
    schema = json.loads(spec_schema())
    jsonschema.validate(example(), schema)
    bad = example() | {"stdout": "log.txt"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda d: d.update(stdout="log.txt"), "stdout: unknown key"),
        (lambda d: d["inputs"]["search"].update(separate=False), "inputs.search.int.separate"),
        (lambda d: d["hints"]["pivfleet:Job"].update(timeout=3), "pivfleet:Job.timeout"),
        (lambda d: d["requirements"].update(InitialWorkDirRequirement={}), "InitialWork"),
    ],
)
def test_keys_outside_the_subset_are_refused_by_name(change: Any, named: str) -> None:
    document = example()
    change(document)
    message = refusal(document)
    assert named in message and "unknown key" in message


def test_an_exit_code_in_both_lists_is_refused() -> None:
    document = example()
    document["hints"]["pivfleet:Job"]["retryExitCodes"] = [65, 75]
    message = refusal(document)
    assert "exit codes [65]" in message and "keep each in one list" in message


@pytest.mark.parametrize("frame", ["frame_a", "frame_b"])
def test_a_missing_frame_input_is_refused_with_the_fix(frame: str) -> None:
    document = example()
    del document["inputs"][frame]
    message = refusal(document)
    assert f"{frame!r} is missing or not a File" in message and "type: File" in message


def test_other_mistakes_name_the_field() -> None:
    document = example()
    document["id"] = "Block_Match"
    document["inputs"]["search"]["default"] = "eight"
    document["outputs"]["vectors"]["outputBinding"]["glob"] = "../vectors.txt"
    message = refusal(document)
    assert "id 'Block_Match'" in message
    assert "input 'default' is int; 'eight' is not" in message
    assert "glob '../vectors.txt' must name a file inside the work folder" in message


def test_requirements_may_be_written_as_a_list_of_classes() -> None:
    document = example()
    document["requirements"] = [
        {"class": "DockerRequirement", "dockerPull": "me/piv:1"},
        {"class": "ToolTimeLimit", "timelimit": 9},
    ]
    spec = AlgorithmSpec.model_validate(document)
    assert spec.timeout_seconds == 9 and spec.requirements.docker is not None


def test_the_argument_list_follows_cwl_order_without_a_shell() -> None:
    document = example()
    document["inputs"]["fast"] = {
        "type": "boolean", "default": True, "inputBinding": {"position": 0, "prefix": "--fast"}
    }  # fmt: skip
    document["inputs"]["label"] = {"type": "string", "default": "a b; rm -rf /"}
    spec = AlgorithmSpec.model_validate(document)
    values = parameter_values(spec, {"search": 4}) | {"window": 32, "step": 16}
    staged = {"frame_a": Path("/w/frame_a.pgm"), "frame_b": Path("/w/frame_b.pgm")}
    assert argument_list(spec, values, staged) == [
        "blockmatch", "--out", "vectors.txt", "--fast", "/w/frame_a.pgm", "/w/frame_b.pgm",
        "--window", "32", "--step", "16", "--search", "4",
    ]  # fmt: skip


def test_parameters_are_checked_against_the_inputs() -> None:
    spec = read_spec(EXAMPLE)
    with pytest.raises(ValueError, match=r"blockmatch takes \['search'\]; unknown \['serch'\]"):
        parameter_values(spec, {"serch": 4})
    with pytest.raises(ValueError, match=r"input 'search' is int; 4\.5 is not"):
        parameter_values(spec, {"search": 4.5})
    with pytest.raises(ValueError, match="unknown \\['window'\\]"):
        parameter_values(spec, {"window": 16})  # the grid's inputs come from piv


BAD_SPECS = [
    (lambda d: d.update(stdout="log.txt"), "stdout: unknown key", "remove it"),
    (lambda d: d.pop("baseCommand"), "baseCommand: missing", "add `baseCommand: [PROGRAM]`"),
    (lambda d: d["inputs"]["search"].pop("type"), "inputs.search: no `type`", "int, float"),
    (
        lambda d: d["outputs"]["vectors"]["outputBinding"].pop("glob"),
        "outputs.vectors.outputBinding.glob: missing",
        "glob: vectors.txt",
    ),
    (
        lambda d: d["arguments"].append("$(inputs.size)"),
        "arguments[2] '$(inputs.size)' references input 'size', which is not declared",
        "declare it under inputs",
    ),
]
"""The five mistakes issue #15 names: each refused with the field and the fix."""


@pytest.mark.parametrize(("change", "field", "fix"), BAD_SPECS)
def test_a_bad_spec_names_the_field_and_the_fix(change: Any, field: str, fix: str) -> None:
    document = example()
    change(document)
    message = refusal(document)
    assert message.startswith("spec.cwl.json: ") and field in message and fix in message


def test_an_expression_on_a_declared_input_asks_for_a_binding() -> None:
    document = example()
    document["arguments"].append("--size=$(inputs.search)")
    assert "expressions are not supported" in refusal(document)
