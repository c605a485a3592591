"""Terraform (AWS) and `pivfleet bootstrap` (LocalStack) build the same queues and timings.

Both read their values from one place each: pivfleet/core/topology.py and terraform/topology.tf
(plus the root module's variable defaults and module arguments). This test parses the HCL, resolves
the few expressions it uses (var., local., string templates, integer arithmetic) and compares.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pivfleet.core import topology
from tests.unit.test_terraform import _clean

hcl2 = pytest.importorskip("hcl2", reason="python-hcl2 is needed to parse the Terraform files")

TERRAFORM = Path(__file__).resolve().parents[2] / "terraform"
PREFIXES = [topology.DEFAULT_NAME_PREFIX, "lab7-piv"]
QUEUE_ARGUMENTS = (
    "name",
    "visibility_timeout_seconds",
    "max_receive_count",
    "message_retention_seconds",
    "dlq_message_retention_seconds",
)


def _load_dir(directory: Path) -> dict[str, list[Any]]:
    merged: dict[str, list[Any]] = {}
    for path in sorted(directory.glob("*.tf")):
        with path.open(encoding="utf-8") as handle:
            for key, blocks in _clean(hcl2.load(handle)).items():
                merged.setdefault(key, []).extend(blocks)
    return merged


ROOT = _load_dir(TERRAFORM)
QUEUE_MODULE = _load_dir(TERRAFORM / "modules" / "queue")
LOCALS: dict[str, Any] = {k: v for block in ROOT["locals"] for k, v in block.items()}
VARIABLES: dict[str, dict] = {n: b for block in ROOT["variable"] for n, b in block.items()}
MODULES: dict[str, dict] = {n: b for block in ROOT["module"] for n, b in block.items()}
DEFAULT_ALGORITHMS = sorted(VARIABLES["algorithms"]["default"])

_OPS: dict[type, Callable[[int, int], int]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv,
}


def _arith(text: str) -> int:
    """Evaluate integer arithmetic (+, -, *) without eval."""

    def walk(node: ast.AST) -> int:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](walk(node.left), walk(node.right))
        raise ValueError(f"unsupported expression {text!r}")

    return walk(ast.parse(text, mode="eval"))


def resolve(value: Any, scope: dict[str, Any]) -> Any:
    """Resolve a parsed HCL value: numbers, `${ref}`, templates, integer arithmetic.

    scope maps `var.x`, `local.x`, `each.key` (and for-expression variables) to values;
    unknown references stay as they are.
    """
    if not isinstance(value, str):
        return value

    def ref(name: str) -> Any:
        if name in scope:
            return scope[name]
        if name.startswith("local.") and name[6:] in LOCALS:
            return resolve(LOCALS[name[6:]], scope)
        if name.startswith("var.") and name[4:] in VARIABLES:
            return VARIABLES[name[4:]].get("default")
        return None

    whole = re.fullmatch(r"\$\{([^{}]+)\}", value)
    if whole:
        inner = whole.group(1).strip()
        indexed = re.fullmatch(r"local\.(\w+)\[each\.key\]", inner)
        if indexed:
            mapping = ref(f"local.{indexed.group(1)}")
            assert isinstance(mapping, dict), f"cannot evaluate {inner}"
            return mapping[scope["each.key"]]
        if re.fullmatch(r"[\w.\[\]\"]+", inner):
            found = ref(inner)
            return value if found is None else found
        substituted = re.sub(r"(?:var|local)\.\w+", lambda m: str(ref(m.group(0))), inner)
        return _arith(substituted)

    def interpolate(match: re.Match[str]) -> str:
        found = ref(match.group(1).strip())
        return match.group(0) if found is None else str(found)

    return re.sub(r"\$\{([\w.]+)\}", interpolate, value)


def job_queue_names(prefix: str, algorithms: list[str]) -> dict[str, str]:
    """Evaluate the `job_queue_names` for-expression of terraform/topology.tf."""
    expression = LOCALS["job_queue_names"]
    match = re.search(r"for (\w+) in keys\(var\.algorithms\) : \1 => \"([^\"]+)\"", expression)
    assert match, f"unexpected job_queue_names expression: {expression}"
    loop_var, template = match.groups()
    return {
        algorithm: resolve(template, {"var.name_prefix": prefix, loop_var: algorithm})
        for algorithm in algorithms
    }


def terraform_queues(prefix: str, algorithms: list[str]) -> dict[str, dict[str, Any]]:
    """The queue module instances of the root module, with their resolved arguments."""
    names = job_queue_names(prefix, algorithms)
    scope = {"var.name_prefix": prefix, "local.job_queue_names": names}
    queues = {}
    for label in ("uploads_queue", "results_queue"):
        args = {k: resolve(MODULES[label][k], scope) for k in QUEUE_ARGUMENTS}
        queues[args["name"]] = args
    for algorithm in algorithms:
        each = {**scope, "each.key": algorithm}
        args = {k: resolve(MODULES["job_queues"][k], each) for k in QUEUE_ARGUMENTS}
        queues[args["name"]] = args
    return queues


def queue_module_queues() -> dict[str, dict[str, Any]]:
    """The aws_sqs_queue resources of modules/queue, by resource name."""
    return {
        name: body
        for block in QUEUE_MODULE["resource"]
        for rtype, named in block.items()
        if rtype == "aws_sqs_queue"
        for name, body in named.items()
    }


def queue_module_dlq_name(name: str) -> str:
    return resolve(queue_module_queues()["dlq"]["name"], {"var.name": name})


# --- tests --------------------------------------------------------------------------------------


def test_defaults_match() -> None:
    assert VARIABLES["name_prefix"]["default"] == topology.DEFAULT_NAME_PREFIX
    assert topology.DEFAULT_ALGORITHM in DEFAULT_ALGORITHMS
    assert VARIABLES["dispatcher_timeout_seconds"]["default"] == topology.DISPATCHER_TIMEOUT_SECONDS
    assert VARIABLES["tile_result_expiry_days"]["default"] == topology.TILE_RESULT_EXPIRY_DAYS
    assert resolve(LOCALS["run_spec_filename"], {}) == topology.RUN_SPEC_FILENAME


@pytest.mark.parametrize("prefix", PREFIXES)
def test_queue_names_match_bootstrap(prefix: str) -> None:
    algorithms = [*DEFAULT_ALGORITHMS, "my-algo"]
    expected = [q.name for q in topology.all_queues(algorithms, prefix)]
    assert sorted(terraform_queues(prefix, algorithms)) == sorted(expected)


@pytest.mark.parametrize("prefix", PREFIXES)
def test_dead_letter_queue_names_match_bootstrap(prefix: str) -> None:
    for spec in topology.all_queues(DEFAULT_ALGORITHMS, prefix):
        assert queue_module_dlq_name(spec.name) == spec.dlq_name


def test_timings_and_redrive_match_bootstrap() -> None:
    prefix = topology.DEFAULT_NAME_PREFIX
    queues = terraform_queues(prefix, DEFAULT_ALGORITHMS)
    for spec in topology.all_queues(DEFAULT_ALGORITHMS, prefix):
        args = queues[spec.name]
        assert args["visibility_timeout_seconds"] == spec.visibility_timeout_seconds, spec.name
        assert args["max_receive_count"] == spec.max_receive_count, spec.name
        assert args["message_retention_seconds"] == spec.retention_seconds, spec.name
        assert args["dlq_message_retention_seconds"] == topology.DLQ_RETENTION_SECONDS, spec.name


def test_queue_module_uses_its_arguments() -> None:
    queues = queue_module_queues()
    main, dlq = queues["this"], queues["dlq"]
    assert main["name"] == "${var.name}"
    assert main["visibility_timeout_seconds"] == "${var.visibility_timeout_seconds}"
    assert main["message_retention_seconds"] == "${var.message_retention_seconds}"
    assert dlq["message_retention_seconds"] == "${var.dlq_message_retention_seconds}"
    redrive = re.sub(r"\s+", " ", main["redrive_policy"])
    assert "deadLetterTargetArn = aws_sqs_queue.dlq.arn" in redrive
    assert "maxReceiveCount = var.max_receive_count" in redrive


def test_upload_visibility_is_six_dispatcher_timeouts() -> None:
    upload_visibility = resolve(LOCALS["upload_visibility_timeout_seconds"], {})
    assert upload_visibility == topology.UPLOAD_VISIBILITY_TIMEOUT_SECONDS
    assert MODULES["dispatcher"]["timeout_seconds"] == "${var.dispatcher_timeout_seconds}"
    # The collector's default timeout keeps AWS's 6x rule against the results queue.
    collector = VARIABLES["collector_timeout_seconds"]["default"]
    assert 6 * collector <= topology.RESULT_VISIBILITY_TIMEOUT_SECONDS


def test_heartbeat_fits_in_job_visibility() -> None:
    job_visibility = resolve(LOCALS["job_visibility_timeout_seconds"], {})
    assert job_visibility == topology.JOB_VISIBILITY_TIMEOUT_SECONDS
    assert job_visibility >= 2 * topology.HEARTBEAT_INTERVAL_SECONDS


@pytest.mark.parametrize("prefix", PREFIXES)
def test_bucket_names_extend_bootstrap_names(prefix: str) -> None:
    scope = {"var.name_prefix": prefix}
    input_bucket = resolve(LOCALS["input_bucket_name"], scope)
    output_bucket = resolve(LOCALS["output_bucket_name"], scope)
    assert input_bucket.startswith(topology.input_bucket(prefix) + "-")
    assert output_bucket.startswith(topology.output_bucket(prefix) + "-")


def test_storage_gets_expiry_and_run_spec_name() -> None:
    storage = MODULES["storage"]
    assert storage["tile_result_expiry_days"] == "${var.tile_result_expiry_days}"
    assert storage["run_spec_filename"] == "${local.run_spec_filename}"


def test_stored_specs_land_where_the_dispatcher_reads_them() -> None:
    """Terraform writes each algorithm's spec at the key bootstrap writes and the dispatcher
    reads (`core/topology.py:algorithm_spec_key`)."""
    prefix = resolve(LOCALS["algorithm_specs_prefix"], {})
    assert f"{prefix}my-algo.cwl.json" == topology.algorithm_spec_key("my-algo")
    specs = MODULES["storage"]["algorithm_specs"]
    assert '"${local.algorithm_specs_prefix}${name}.cwl.json"' in specs
    assert "jsonencode(yamldecode(file(algorithm.spec)))" in specs
