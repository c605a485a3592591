"""An algorithm spec: any executable described as a CWL v1.2 CommandLineTool (a strict subset),
with pivfleet's own settings in a namespaced hint, `pivfleet:Job`.

The subset is what a PIV step needs: `baseCommand`, literal `arguments`, `inputs` (the two
frames as Files; int, float, string and boolean parameters with defaults, bound by
`inputBinding.position`/`prefix`), one output file found by `outputBinding.glob`, the image
(`DockerRequirement.docker_pull`), resources (`ResourceRequirement`, `cwltool:CUDARequirement`)
and the time limit (`ToolTimeLimit`). A key outside it is refused by name, so a spec that loads
here means what it says; `model_json_schema()` (`spec_schema`) is the published schema (a
`pivfleet schema` option to print it is still to come)."""

from __future__ import annotations

import json
import re
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from pivfleet.core.errors import SettingsError
from pivfleet.core.spec import ALGORITHM_NAME_PATTERN

FRAME_INPUTS = ("frame_a", "frame_b")
"""The File inputs pivfleet stages for each job: the crop of frame A and of frame B."""
GRID_INPUTS = {"window": "piv.windows[-1]", "step": "piv.steps[-1]"}
"""int inputs pivfleet fills from the run's last pass, in pixels: the output grid's window and
step (the job's vectors must be `grid_shape(crop, window, step)`)."""
NAMESPACE = "https://github.com/pivfleet/pivfleet/algorithm-spec#"
CWLTOOL_NAMESPACE = "http://commonwl.org/cwltool#"
FRAME_FORMATS = ("pivfleet:pgm", "pivfleet:tiff", "pivfleet:npy")
VECTOR_FORMATS = ("pivfleet:openpiv-text", "pivfleet:npz")
DEFAULT_TIMEOUT_SECONDS = 3600
SPEC_SUFFIXES = (".cwl", ".cwl.yml", ".cwl.yaml", ".cwl.json")
Scalar = int | float | str | bool

ParameterType = Literal[
    "int", "float", "string", "boolean", "int?", "float?", "string?", "boolean?"
]
PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "int": (int,),
    "float": (int, float),
    "string": (str,),
    "boolean": (bool,),
}


class Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=to_camel)


class InputBinding(Strict):
    """Where the value goes on the command line: sorted by `position`, after `prefix` when set
    (a boolean adds its `prefix` alone when true and nothing when false)."""

    position: int = 0
    prefix: str | None = None


class FrameInput(Strict):
    type: Literal["File"]
    format: Literal["pivfleet:pgm", "pivfleet:tiff", "pivfleet:npy"] = "pivfleet:tiff"
    """How pivfleet writes the crop: binary PGM (P5; 8-bit, or 16-bit big-endian when a value
    exceeds 255; rounded to whole grey levels), TIFF (8/16-bit, or float32 when not whole), or
    NumPy `.npy` (float64)."""
    input_binding: InputBinding
    doc: str | None = None


class ParameterInput(Strict):
    type: ParameterType
    default: Scalar | None = None
    input_binding: InputBinding | None = None
    """Without a binding the parameter is validated but not passed (CWL's meaning)."""
    doc: str | None = None

    @property
    def optional(self) -> bool:
        return self.type.endswith("?")

    def check(self, name: str, value: Any) -> Scalar | None:
        """The value if it has this input's type, else a ValueError naming both."""
        base = self.type.rstrip("?")
        if value is None and self.optional:
            return None
        wrong_bool = isinstance(value, bool) and base != "boolean"
        if wrong_bool or not isinstance(value, PYTHON_TYPES[base]):
            raise ValueError(f"input {name!r} is {self.type}; {value!r} is not")
        return cast(Scalar, value)

    @model_validator(mode="after")
    def _default_has_the_type(self) -> ParameterInput:
        if self.default is not None:
            self.check("default", self.default)
        return self


class OutputBinding(Strict):
    glob: str

    @field_validator("glob")
    @classmethod
    def _inside_work_folder(cls, value: str) -> str:
        path = PurePosixPath(value)
        if not value or path.is_absolute() or ".." in path.parts:
            raise ValueError(
                f"glob {value!r} must name a file inside the work folder (the command's "
                "working directory), e.g. 'vectors.txt'"
            )
        return value


class FileOutput(Strict):
    type: Literal["File"]
    format: Literal[
        "pivfleet:openpiv-text", "pivfleet:npz", "pivfleet:pgm", "pivfleet:tiff", "pivfleet:npy"
    ]
    """A vector file: `openpiv-text`, OpenPIV's `tools.save` columns x y u v [flags [mask]]
    after `transform_coordinates` (y and v up), pixels; `npz`, arrays u, v [flags] in image
    coordinates (v down). Or, for an image step's outputs `frame_a` and `frame_b`, a frame:
    `pgm`, `tiff` or `npy`, the size of the input frames."""
    output_binding: OutputBinding
    doc: str | None = None


class DockerRequirement(Strict):
    docker_pull: str


class ResourceRequirement(Strict):
    cores_min: Annotated[float, Field(gt=0)] = 1
    ram_min: Annotated[int, Field(gt=0)] = 1024
    """Mebibytes, as CWL counts them."""


class ToolTimeLimit(Strict):
    timelimit: Annotated[int, Field(gt=0)] = DEFAULT_TIMEOUT_SECONDS
    """Seconds one job may run before it is killed and retried."""


class Requirements(Strict):
    docker: DockerRequirement | None = Field(default=None, alias="DockerRequirement")
    resources: ResourceRequirement = Field(
        default_factory=ResourceRequirement, alias="ResourceRequirement"
    )
    time_limit: ToolTimeLimit = Field(default_factory=ToolTimeLimit, alias="ToolTimeLimit")


class CudaRequirement(Strict):
    """cwltool's extension for GPUs (`cwltool:CUDARequirement`)."""

    cuda_version_min: str
    cuda_compute_capability: str | list[str]
    cuda_device_count_min: Annotated[int, Field(ge=1)] = 1
    cuda_device_count_max: Annotated[int, Field(ge=1)] | None = None


ExitCode = Annotated[int, Field(ge=1, le=255)]


class JobHint(Strict):
    """pivfleet's own settings (`pivfleet:Job`): what an exit code means, how the algorithm
    may be tiled, and the convention of its output grid."""

    retry_exit_codes: list[ExitCode] = Field(default_factory=list)
    """Another attempt may succeed (a resource was busy). Exit codes in neither list, and a
    death by signal, are retried too, up to the queue's attempts."""
    permanent_exit_codes: list[ExitCode] = Field(default_factory=list)
    """This input cannot be processed: the tile fails at once with the end of stderr."""
    tiles: Literal["whole", "halo"] = "whole"
    """`whole`: one job per pair; `halo`: crops with a halo, the halo's vectors dropped."""
    halo_pixels: Annotated[int, Field(ge=0)] | None = None
    """How far the algorithm sees beyond a vector's window (`tiles: halo` only); pivfleet's
    own halo for the run's `piv` settings when unset."""
    grid: Literal["final-pass"] = "final-pass"
    """Vectors on `grid_shape(crop, piv.windows[-1], piv.steps[-1])`."""
    units: Literal["pixels"] = "pixels"
    """Displacements in pixels per frame, coordinates in pixels of the crop."""

    @model_validator(mode="after")
    def _consistent(self) -> JobHint:
        both = sorted(set(self.retry_exit_codes) & set(self.permanent_exit_codes))
        if both:
            raise ValueError(
                f"exit codes {both} are in both retryExitCodes and permanentExitCodes: "
                "keep each in one list"
            )
        if self.halo_pixels is not None and self.tiles != "halo":
            raise ValueError("haloPixels needs tiles: halo (a whole pair has no halo)")
        return self


class Hints(Strict):
    job: JobHint = Field(default_factory=JobHint, alias="pivfleet:Job")
    cuda: CudaRequirement | None = Field(default=None, alias="cwltool:CUDARequirement")


class AlgorithmSpec(Strict):
    """A CWL v1.2 CommandLineTool that turns a pair of frames into vectors (see module doc)."""

    cwl_version: Literal["v1.2"]
    class_: Literal["CommandLineTool"] = Field(alias="class")
    id: str
    """The algorithm's name (run.json's `algorithm`, its queue's name)."""
    label: str | None = None
    doc: str | None = None
    namespaces: dict[str, str] = Field(default_factory=dict, alias="$namespaces")
    base_command: Annotated[list[str], Field(min_length=1)]
    arguments: list[str] = Field(default_factory=list)
    """Literal arguments, placed at position 0 in CWL's order (expressions are not supported)."""
    inputs: dict[str, Annotated[FrameInput | ParameterInput, Field(discriminator="type")]]
    outputs: Annotated[dict[str, FileOutput], Field(min_length=1, max_length=2)]
    """One vector file, or an image step's two frames, `frame_a` and `frame_b`."""
    requirements: Requirements = Field(default_factory=Requirements)
    hints: Hints = Field(default_factory=Hints)

    @field_validator("id")
    @classmethod
    def _id_names_a_queue(cls, value: str) -> str:
        name = value.removeprefix("#")
        if not re.fullmatch(ALGORITHM_NAME_PATTERN, name):
            raise ValueError(
                f"id {value!r}: use lowercase letters, digits and '-', at most 41 (it is the "
                "algorithm's name in run.json and names its queue)"
            )
        return name

    @field_validator("base_command", mode="before")
    @classmethod
    def _one_word_is_a_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("requirements", "hints", mode="before")
    @classmethod
    def _list_form_by_class(cls, value: Any) -> Any:
        """CWL writes requirements as a list of `{class: ...}` or as a map keyed by class."""
        if isinstance(value, list):
            return {entry.get("class"): without_class(entry) for entry in value}
        return value

    @model_validator(mode="after")
    def _inputs_are_pivfleets(self) -> AlgorithmSpec:
        check_frames(self.inputs)
        check_grid_inputs(self.inputs)
        check_outputs(self.outputs)
        check_no_templates(self)
        used = {"pivfleet": NAMESPACE, "cwltool": CWLTOOL_NAMESPACE}
        for prefix, iri in used.items():
            if prefix in self.namespaces and self.namespaces[prefix] != iri:
                raise ValueError(f"$namespaces: {prefix} must be {iri!r}")
        return self

    @property
    def name(self) -> str:
        return self.id

    @property
    def job(self) -> JobHint:
        return self.hints.job

    @property
    def output(self) -> FileOutput:
        return next(iter(self.outputs.values()))

    @property
    def makes_images(self) -> bool:
        """An image step (`run.json`'s `steps`): its outputs are the two frames."""
        return set(self.outputs) == set(FRAME_INPUTS)

    @property
    def timeout_seconds(self) -> int:
        return self.requirements.time_limit.timelimit

    def parameters(self) -> dict[str, ParameterInput]:
        """The inputs `algorithm_parameters` may set (not the frames, not the grid's)."""
        return {
            name: value
            for name, value in self.inputs.items()
            if isinstance(value, ParameterInput) and name not in GRID_INPUTS
        }


def without_class(entry: Any) -> Any:
    return {k: v for k, v in entry.items() if k != "class"} if isinstance(entry, dict) else entry


def check_frames(inputs: dict[str, FrameInput | ParameterInput]) -> None:
    for name in FRAME_INPUTS:
        if not isinstance(inputs.get(name), FrameInput):
            raise ValueError(
                f"inputs: {name!r} is missing or not a File: declare "
                f"`{name}: {{type: File, format: pivfleet:pgm, inputBinding: {{position: N}}}}`"
            )
    files = (n for n, v in inputs.items() if isinstance(v, FrameInput))
    extra = sorted(set(files) - set(FRAME_INPUTS))
    if extra:
        raise ValueError(f"inputs {extra}: only frame_a and frame_b may be Files")


def check_outputs(outputs: dict[str, FileOutput]) -> None:
    if set(outputs) == set(FRAME_INPUTS):
        wrong = sorted(n for n, o in outputs.items() if o.format not in FRAME_FORMATS)
        if wrong:
            raise ValueError(
                f"outputs {wrong}: an image step's frames are pivfleet:pgm, pivfleet:tiff or "
                "pivfleet:npy"
            )
        return
    if len(outputs) != 1 or next(iter(outputs.values())).format not in VECTOR_FORMATS:
        raise ValueError(
            f"outputs {sorted(outputs)}: declare one vector file (format "
            "pivfleet:openpiv-text or pivfleet:npz), or, for an image step, frame_a and "
            "frame_b (format pivfleet:pgm, pivfleet:tiff or pivfleet:npy)"
        )


def check_grid_inputs(inputs: dict[str, FrameInput | ParameterInput]) -> None:
    for name, source in GRID_INPUTS.items():
        declared = inputs.get(name)
        if isinstance(declared, ParameterInput) and declared.type != "int":
            raise ValueError(f"input {name!r} is filled from {source}: declare it `type: int`")


TEMPLATE = re.compile(r"\$[({]([^)}]*)[)}]")
"""A CWL parameter reference `$(inputs.x)` or expression `${...}`: not in the subset."""
INPUT_REFERENCE = re.compile(r"^\s*inputs\.(\w+)")


def check_no_templates(spec: AlgorithmSpec) -> None:
    """Refuse CWL references and expressions: pivfleet's subset binds inputs by
    `inputBinding` only, so a command line never depends on an evaluator."""
    for where, text in literal_strings(spec):
        found = TEMPLATE.search(text)
        if found is None:
            continue
        named = INPUT_REFERENCE.match(found.group(1))
        if named and named.group(1) not in spec.inputs:
            raise ValueError(
                f"{where} {text!r} references input {named.group(1)!r}, which is not declared: "
                "declare it under inputs (with an inputBinding to pass it) and drop the reference"
            )
        raise ValueError(
            f"{where} {text!r}: parameter references and expressions are not supported; pass "
            "an input with `inputBinding: {position: N, prefix: ...}` instead"
        )


def literal_strings(spec: AlgorithmSpec) -> list[tuple[str, str]]:
    """Every string of the spec that reaches the command line or names its output."""
    found = [(f"baseCommand[{i}]", word) for i, word in enumerate(spec.base_command)]
    found += [(f"arguments[{i}]", word) for i, word in enumerate(spec.arguments)]
    for name, declared in spec.inputs.items():
        prefix = declared.input_binding.prefix if declared.input_binding else None
        found += [(f"inputs.{name}.inputBinding.prefix", prefix)] if prefix else []
    for name, output in spec.outputs.items():
        found.append((f"outputs.{name}.outputBinding.glob", output.output_binding.glob))
    return found


def argument_list(
    spec: AlgorithmSpec, values: dict[str, Scalar | None], staged: dict[str, Path]
) -> list[str]:
    """The command as a list (no shell): `baseCommand`, then `arguments` and bound inputs in
    CWL's order (by position; arguments before inputs, inputs by name at equal positions)."""
    keyed: list[tuple[tuple[int, int, str], list[str]]] = [
        ((0, 0, f"{index:06d}"), [argument]) for index, argument in enumerate(spec.arguments)
    ]
    for name, declared in spec.inputs.items():
        value: Scalar | Path | None = staged[name] if name in staged else values.get(name)
        binding = declared.input_binding
        if binding is not None and value is not None:
            keyed.append(((binding.position, 1, name), bound_words(binding, value)))
    keyed.sort(key=lambda item: item[0])
    return [*spec.base_command, *(word for _, words in keyed for word in words)]


def bound_words(binding: InputBinding, value: Scalar | Path) -> list[str]:
    if isinstance(value, bool):
        return [binding.prefix] if value and binding.prefix else []
    text = str(value)
    return [binding.prefix, text] if binding.prefix else [text]


def parameter_values(spec: AlgorithmSpec, given: dict[str, Any]) -> dict[str, Scalar | None]:
    """`algorithm_parameters` checked against the spec's inputs, defaults filled in."""
    declared = spec.parameters()
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise ValueError(
            f"{spec.name} takes {sorted(declared) or 'no parameters'}; unknown {unknown}"
        )
    values: dict[str, Scalar | None] = {}
    for name, parameter in declared.items():
        value = given.get(name, parameter.default)
        if value is None and not parameter.optional:
            raise ValueError(f"{spec.name}: parameter {name!r} has no default; give it")
        values[name] = parameter.check(name, value)
    return values


def parse_spec(text: str, source: str) -> AlgorithmSpec:
    """A spec from YAML (a superset of JSON) text; errors name `source`, the field and why."""
    import yaml

    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise SettingsError(f"{source}: not YAML or JSON: {error}") from None
    try:
        return AlgorithmSpec.model_validate(document)
    except ValidationError as error:
        raise SettingsError(f"{source}: {describe_spec_errors(error)}") from None


MISSING_FIXES = {
    "cwlVersion": "add `cwlVersion: v1.2`",
    "class": "add `class: CommandLineTool`",
    "id": "add `id: NAME`, the algorithm's name (lowercase letters, digits, '-')",
    "baseCommand": "add `baseCommand: [PROGRAM]`, the program to run (no shell)",
    "inputs": "declare at least frame_a and frame_b as Files",
    "outputs": "declare the vector file, e.g. `vectors: {type: File, format: "
    "pivfleet:openpiv-text, outputBinding: {glob: vectors.txt}}` (an image step: frame_a and "
    "frame_b)",
    "outputBinding": "add `outputBinding: {glob: FILE}`, where the command writes its output",
    "glob": "name the file the command writes in its work folder, e.g. `glob: vectors.txt`",
    "inputBinding": "add `inputBinding: {position: N}` (where the file goes on the command line)",
    "dockerPull": "name the program's image, e.g. `dockerPull: lab/piv:1.0`",
}
"""What to write when a required key is missing, by the key's name."""
INPUT_TYPES = "File (frame_a, frame_b only), int, float, string or boolean (`?` when optional)"


def describe_spec_errors(error: ValidationError) -> str:
    return "; ".join(describe_spec_error(item) for item in error.errors())


def describe_spec_error(item: Any) -> str:
    """One pydantic error as `field: what is wrong; the fix`."""
    where = ".".join(str(p) for p in item["loc"])
    kind, last = item["type"], str(item["loc"][-1]) if item["loc"] else ""
    if not where:  # the whole spec's own checks name their fields themselves
        return str(item["msg"]).removeprefix("Value error, ")
    if kind == "extra_forbidden":
        return f"{where}: unknown key (not in pivfleet's CWL subset); remove it"
    if kind == "missing":
        return f"{where}: missing; {MISSING_FIXES.get(last, 'add it')}"
    if kind == "union_tag_not_found":
        return f"{where}: no `type`; declare one: {INPUT_TYPES}"
    if kind == "union_tag_invalid":
        return f"{where}: type {item['ctx']['tag']!r} is not in the subset; use {INPUT_TYPES}"
    return f"{where}: {item['msg'].removeprefix('Value error, ')}"


def read_spec(path: Path) -> AlgorithmSpec:
    return parse_spec(path.read_text(encoding="utf-8"), str(path))


def spec_files(folder: Path) -> list[Path]:
    """The specs in `folder`: files ending in .cwl, .cwl.yml, .cwl.yaml or .cwl.json."""
    if not folder.is_dir():
        raise SettingsError(f"algorithm specs folder {folder} is not a folder")
    return sorted(p for p in folder.iterdir() if p.name.endswith(SPEC_SUFFIXES))


def spec_schema() -> str:
    return json.dumps(AlgorithmSpec.model_json_schema(by_alias=True), indent=2)
