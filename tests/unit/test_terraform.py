"""Static checks of the Terraform under terraform/ (no provider download, no AWS account).

- python-hcl2 parses every file and the structure follows the house rules (typed, described
  variables; encrypted queues with redrive; private, encrypted buckets; least-privilege IAM;
  autoscaling down to zero).
- checkov reports no failed check (set PIVFLEET_CHECKOV to a checkov binary, e.g. the one of
  .checkov-venv; see terraform/checkov-requirements.txt).
- `terraform fmt -check -recursive` passes (when a terraform binary is on the PATH).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

hcl2 = pytest.importorskip("hcl2", reason="python-hcl2 is needed to parse the Terraform files")

REPO = Path(__file__).resolve().parents[2]
TERRAFORM = REPO / "terraform"
MODULES = TERRAFORM / "modules"
TF_FILES = sorted(TERRAFORM.rglob("*.tf"))
MODULE_DIRS = sorted(p for p in MODULES.iterdir() if p.is_dir())
EXPECTED_MODULES = {"storage", "queue", "function", "worker_service", "monitoring", "network"}
REQUIRED_FILES = ("main.tf", "variables.tf", "outputs.tf", "versions.tf")
# Actions whose resource AWS requires to be "*" (they have no resource type).
STAR_RESOURCE_ACTIONS = {"ecr:GetAuthorizationToken", "cloudwatch:PutMetricData"}


# --- parsing --------------------------------------------------------------------------------------


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        return text[1:-1]
    return text


def _clean(value: Any) -> Any:
    """Normalise python-hcl2 output across versions: unquoted strings, no __meta__ keys."""
    if isinstance(value, dict):
        return {_unquote(k): _clean(v) for k, v in value.items() if not k.startswith("__")}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, str):
        return _unquote(value)
    return value


def load_tf(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        return _clean(hcl2.load(handle))


def load_dir(directory: Path) -> dict[str, list[Any]]:
    """Every top-level block of the .tf files of one module, merged by block type."""
    merged: dict[str, list[Any]] = {}
    for path in sorted(directory.glob("*.tf")):
        for key, blocks in load_tf(path).items():
            merged.setdefault(key, []).extend(blocks)
    return merged


def resources(
    module: dict[str, list[Any]], kind: str = "resource"
) -> Iterator[tuple[str, str, dict]]:
    """(type, name, body) of every resource (or data source) of a module."""
    for block in module.get(kind, []):
        for rtype, named in block.items():
            for name, body in named.items():
                yield rtype, name, body


def variables(module: dict[str, list[Any]]) -> dict[str, dict]:
    return {name: body for block in module.get("variable", []) for name, body in block.items()}


def module_dirs_with_root() -> list[Path]:
    return [TERRAFORM, *MODULE_DIRS]


def all_resources(kind: str = "resource") -> list[tuple[Path, str, str, dict]]:
    return [
        (directory, rtype, name, body)
        for directory in module_dirs_with_root()
        for rtype, name, body in resources(load_dir(directory), kind)
    ]


def _blocks(body: dict, name: str) -> list[dict]:
    """Static blocks `name { }` and the content of `dynamic "name" { }` blocks."""
    found = list(body.get(name, []))
    for dynamic in body.get("dynamic", []):
        for label, dyn in dynamic.items():
            if label == name:
                found.extend(dyn.get("content", []))
    return found


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


def policy_statements() -> list[tuple[str, dict]]:
    """Every statement of every aws_iam_policy_document, labelled for error messages."""
    found = []
    for directory, rtype, name, body in all_resources("data"):
        if rtype != "aws_iam_policy_document":
            continue
        for index, statement in enumerate(_blocks(body, "statement")):
            found.append((f"{directory.name}/{name}[{index}]", statement))
    return found


# --- files and variables ------------------------------------------------------------------------


def test_terraform_tree_exists() -> None:
    assert TF_FILES, "no .tf files under terraform/"
    assert {p.name for p in MODULE_DIRS} >= EXPECTED_MODULES


@pytest.mark.parametrize("path", TF_FILES, ids=lambda p: str(p.relative_to(TERRAFORM)))
def test_every_file_parses(path: Path) -> None:
    assert isinstance(load_tf(path), dict)


@pytest.mark.parametrize("directory", module_dirs_with_root(), ids=lambda p: p.name)
def test_every_module_has_the_four_files(directory: Path) -> None:
    missing = [f for f in REQUIRED_FILES if not (directory / f).is_file()]
    assert not missing, f"{directory.relative_to(REPO)} lacks {missing}"


@pytest.mark.parametrize("directory", module_dirs_with_root(), ids=lambda p: p.name)
def test_every_variable_has_type_and_description(directory: Path) -> None:
    problems = []
    for name, body in variables(load_dir(directory)).items():
        if not body.get("type"):
            problems.append(f"{name}: no type")
        if not str(body.get("description", "")).strip():
            problems.append(f"{name}: no description")
    assert not problems, f"{directory.name}: {problems}"


@pytest.mark.parametrize("directory", module_dirs_with_root(), ids=lambda p: p.name)
def test_every_output_has_a_description(directory: Path) -> None:
    outputs = {n: b for block in load_dir(directory).get("output", []) for n, b in block.items()}
    assert outputs, f"{directory.name} has no outputs"
    assert all(str(b.get("description", "")).strip() for b in outputs.values())


def test_provider_versions_are_pinned() -> None:
    for directory in module_dirs_with_root():
        (terraform,) = load_tf(directory / "versions.tf")["terraform"]
        assert terraform.get("required_version"), directory.name
        (providers,) = terraform["required_providers"]
        aws = providers["aws"]
        assert aws["source"] == "hashicorp/aws"
        assert re.search(r"5\.\d+", aws["version"]), (
            f"{directory.name}: aws provider not pinned to 5.x"
        )
    (root,) = load_tf(TERRAFORM / "versions.tf")["terraform"]
    assert root["required_providers"][0]["aws"]["version"].startswith("~> 5.")


def test_every_checkov_skip_is_inline_with_a_reason() -> None:
    for path in TF_FILES:
        for line in path.read_text(encoding="utf-8").splitlines():
            if "checkov:skip" in line:
                assert re.search(r"#checkov:skip=CKV2?_[A-Z]+_\d+:\S.{10,}", line), (
                    f"{path.relative_to(REPO)}: skip without a reason: {line.strip()}"
                )


# --- queues -------------------------------------------------------------------------------------


def test_every_queue_is_encrypted_and_has_a_redrive_policy_or_is_a_dlq() -> None:
    queues = [r for r in all_resources() if r[1] == "aws_sqs_queue"]
    assert queues
    for directory, _, name, body in queues:
        label = f"{directory.name}/aws_sqs_queue.{name}"
        encrypted = str(body.get("sqs_managed_sse_enabled")).lower() == "true" or body.get(
            "kms_master_key_id"
        )
        assert encrypted, f"{label} is not encrypted"
        siblings = [b for d, t, _, b in queues if d == directory and t == "aws_sqs_queue"]
        is_dlq = any(
            f"aws_sqs_queue.{name}.arn" in str(b.get("redrive_policy", "")) for b in siblings
        )
        assert body.get("redrive_policy") or is_dlq, f"{label} has no redrive policy"
        if body.get("redrive_policy"):
            assert "maxReceiveCount" in body["redrive_policy"]


def test_every_queue_has_a_tls_only_policy() -> None:
    module = load_dir(MODULES / "queue")
    queue_names = {n for t, n, _ in resources(module) if t == "aws_sqs_queue"}
    covered = set()
    for rtype, _, body in resources(module):
        if rtype == "aws_sqs_queue_policy":
            covered.add(re.sub(r"^\$\{aws_sqs_queue\.(\w+)\.id\}$", r"\1", body["queue_url"]))
    assert covered == queue_names
    documents = {n: b for t, n, b in resources(module, "data") if t == "aws_iam_policy_document"}
    for name, document in documents.items():
        assert any(
            c.get("variable") == "aws:SecureTransport"
            for s in _blocks(document, "statement")
            if s.get("effect") == "Deny"
            for c in s.get("condition", [])
        ), f"queue policy {name} does not deny insecure transport"


def test_uploads_queue_lets_only_one_bucket_of_this_account_send() -> None:
    document = next(
        b
        for t, n, b in resources(load_dir(MODULES / "queue"), "data")
        if t == "aws_iam_policy_document" and n == "queue"
    )
    (s3,) = [
        s for s in _blocks(document, "statement") if s.get("sid") == "S3NotifiesRunSpecUploads"
    ]
    assert {c["variable"] for c in s3["condition"]} == {"aws:SourceArn", "aws:SourceAccount"}


# --- buckets ------------------------------------------------------------------------------------


def _targets(body: dict, bucket: str) -> bool:
    ref = f"aws_s3_bucket.{bucket}"
    return ref in str(body.get("for_each", "")) or ref in str(body.get("bucket", ""))


def test_every_bucket_blocks_public_access_and_is_encrypted() -> None:
    buckets = [r for r in all_resources() if r[1] == "aws_s3_bucket"]
    assert buckets
    for directory, _, name, _ in buckets:
        module = list(resources(load_dir(directory)))
        blocks = [b for t, _, b in module if t == "aws_s3_bucket_public_access_block"]
        assert any(_targets(b, name) for b in blocks), f"{name}: no public access block"
        for block in blocks:
            for flag in (
                "block_public_acls",
                "block_public_policy",
                "ignore_public_acls",
                "restrict_public_buckets",
            ):
                assert str(block[flag]).lower() == "true", flag
        sse = [b for t, _, b in module if t == "aws_s3_bucket_server_side_encryption_configuration"]
        assert any(_targets(b, name) for b in sse), f"{name}: no server-side encryption"
        policies = [b for t, _, b in module if t == "aws_s3_bucket_policy"]
        assert any(_targets(b, name) for b in policies), f"{name}: no TLS-only bucket policy"


def test_tile_results_expire_and_run_json_notifies_the_uploads_queue() -> None:
    module = {(t, n): b for t, n, b in resources(load_dir(MODULES / "storage"))}
    rules = module[("aws_s3_bucket_lifecycle_configuration", "output")]["rule"]
    (expire,) = [r for r in rules if r.get("expiration")]
    assert expire["filter"][0]["prefix"] == "${var.tile_result_prefix}"
    assert expire["expiration"][0]["days"] == "${var.tile_result_expiry_days}"
    (queue,) = module[("aws_s3_bucket_notification", "run_spec")]["queue"]
    assert queue["filter_suffix"] == "${var.run_spec_filename}"
    assert queue["events"] == ["s3:ObjectCreated:*"]


# --- IAM ----------------------------------------------------------------------------------------


def test_no_policy_statement_allows_a_wildcard_action() -> None:
    statements = policy_statements()
    assert len(statements) > 10
    for label, statement in statements:
        if statement.get("effect", "Allow") != "Allow":
            continue
        assert not statement.get("not_actions"), f"{label}: NotAction in an Allow statement"
        for action in _as_list(statement.get("actions")):
            assert "*" not in action, f"{label}: wildcard action {action!r}"


def test_jsonencoded_policies_have_no_wildcard_action() -> None:
    for path in TF_FILES:
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"\bAction\s*=\s*(\[[^\]]*\]|\"[^\"]*\")", text):
            assert "*" not in match.group(1), f"{path.relative_to(REPO)}: {match.group(0)}"


def test_star_resources_only_where_aws_requires_them() -> None:
    for label, statement in policy_statements():
        if statement.get("effect", "Allow") != "Allow" or "*" not in _as_list(
            statement.get("resources")
        ):
            continue
        if statement.get("principals"):
            # A resource policy (the KMS key policy): "*" means the resource it is attached to.
            assert label.startswith("kms/"), label
            continue
        assert set(_as_list(statement.get("actions"))) <= STAR_RESOURCE_ACTIONS, label


def test_one_role_per_role() -> None:
    roles = {(d.name, n) for d, t, n, _ in all_resources() if t == "aws_iam_role"}
    assert roles == {
        ("function", "this"),
        ("worker_service", "execution"),
        ("worker_service", "task"),
    }


# --- compute ------------------------------------------------------------------------------------


def test_lambda_event_sources_report_batch_item_failures() -> None:
    module = list(resources(load_dir(MODULES / "function")))
    (mapping,) = [b for t, _, b in module if t == "aws_lambda_event_source_mapping"]
    assert mapping["function_response_types"] == ["ReportBatchItemFailures"]
    (function,) = [b for t, _, b in module if t == "aws_lambda_function"]
    assert function["package_type"] == "Image"
    assert function["reserved_concurrent_executions"] == "${var.reserved_concurrency}"
    assert function["timeout"] == "${var.timeout_seconds}"


def test_dispatcher_and_collector_run_the_same_image_with_their_handlers() -> None:
    root = {n: b for block in load_dir(TERRAFORM)["module"] for n, b in block.items()}
    assert root["dispatcher"]["command"] == ["dispatcher.handler.handle"]
    assert root["collector"]["command"] == ["collector.handler.handle"]
    assert root["dispatcher"]["image_uri"] == root["collector"]["image_uri"]


@pytest.mark.parametrize(
    ("function", "why"),
    [
        ("dispatcher", "a resubmission removes the replaced generation's outputs"),
        ("collector", "a pair that cannot be collected has its half-written outputs removed"),
        ("reconciler", "it re-drives runs as the dispatcher does"),
    ],
)
def test_functions_that_remove_outputs_may_delete_in_the_output_bucket(
    function: str, why: str
) -> None:
    root = {n: b for block in load_dir(TERRAFORM)["module"] for n, b in block.items()}
    assert root[function]["delete_bucket_arns"] == ["${module.storage.output_bucket_arn}"], why


def test_the_collector_may_send_each_algorithms_next_pass() -> None:
    """Pass-synchronous pairs: the collector reduces a pass and sends the next one's jobs."""
    root = {n: b for block in load_dir(TERRAFORM)["module"] for n, b in block.items()}
    assert root["collector"]["send_queue_arns"] == "${[for q in module.job_queues : q.arn]}"
    producers = root["job_queues"]["producer_role_arns"]
    assert "${module.collector.role_arn}" in producers


def test_worker_task_definition() -> None:
    module = load_dir(MODULES / "worker_service")
    (task,) = [b for t, _, b in resources(module) if t == "aws_ecs_task_definition"]
    containers = task["container_definitions"]
    assert "var.command == null ? {} : {command = var.command}" in containers
    assert variables(module)["command"]["default"] == ["python", "-m", "worker"]
    root = {n: b for block in load_dir(TERRAFORM)["module"] for n, b in block.items()}
    # A wrapped image's ENTRYPOINT runs its own runtime: no command over it.
    wrapped = '${each.value.spec == null ? ["python", "-m", "worker"] : null}'
    assert root["workers"]["command"] == wrapped
    assert "stopTimeout = var.stop_timeout_seconds" in containers
    assert "awslogs" in containers
    stop = variables(module)["stop_timeout_seconds"]
    assert "var.stop_timeout_seconds <= 120" in stop["validation"][0]["condition"]
    env = next(b for b in module["locals"] if "environment" in b)["environment"]
    for key in (
        "PIVFLEET_NAME_PREFIX",
        "PIVFLEET_INPUT_BUCKET",
        "PIVFLEET_OUTPUT_BUCKET",
        "PIVFLEET_ALGORITHM",
        "PIVFLEET_WORKER_PROCESSES",
        "PIVFLEET_WORKER_VCPU",
        "PIVFLEET_WORKER_MEMORY_GB",
        "AWS_REGION",
    ):
        assert f"{key} = " in env, key
    (service,) = [b for t, _, b in resources(module) if t == "aws_ecs_service"]
    providers = {s["capacity_provider"] for s in service["capacity_provider_strategy"]}
    assert providers == {"FARGATE", "FARGATE_SPOT"}
    assert service["network_configuration"][0]["assign_public_ip"] == "${var.assign_public_ip}"


def test_autoscaling_reaches_zero_and_starts_from_zero() -> None:
    module = load_dir(MODULES / "worker_service")
    found = list(resources(module))
    targets = [b for t, _, b in found if t == "aws_appautoscaling_target"]
    assert targets
    module_vars = variables(module)
    root_vars = variables(load_dir(TERRAFORM))
    for target in targets:
        ref = re.fullmatch(r"\$\{var\.(\w+)\}", str(target["min_capacity"]))
        value = module_vars[ref.group(1)].get("default") if ref else target["min_capacity"]
        assert value == 0, "autoscaling min_capacity must default to 0"
    for algorithm in root_vars["algorithms"]["default"].values():
        assert algorithm["min_workers"] == 0
    policies = {n: b for t, n, b in found if t == "aws_appautoscaling_policy"}
    tracking = [b for b in policies.values() if b["policy_type"] == "TargetTrackingScaling"]
    (spec,) = tracking[0]["target_tracking_scaling_policy_configuration"][0][
        "customized_metric_specification"
    ]
    expressions = [m["expression"] for m in spec["metrics"] if m.get("expression")]
    assert expressions == ["m1 / m2"], "backlog per task must be metric math visible / running"
    steps = [b for b in policies.values() if b["policy_type"] == "StepScaling"]
    assert len(steps) == 2, "needs a step policy out of zero and one back to zero"
    alarms = [b for t, _, b in found if t == "aws_cloudwatch_metric_alarm"]
    actions = " ".join(str(a["alarm_actions"]) for a in alarms)
    for name in ("scale_out_from_zero", "scale_to_zero"):
        assert f"aws_appautoscaling_policy.{name}.arn" in actions


def test_ecr_repositories_scan_on_push_with_immutable_tags() -> None:
    (repo,) = [
        b for t, _, b in resources(load_dir(MODULES / "registry")) if t == "aws_ecr_repository"
    ]
    assert repo["image_tag_mutability"] == "IMMUTABLE"
    assert str(repo["image_scanning_configuration"][0]["scan_on_push"]).lower() == "true"


def test_monitoring_alarms_and_encrypted_topic() -> None:
    found = {(t, n): b for t, n, b in resources(load_dir(MODULES / "monitoring"))}
    assert found[("aws_sns_topic", "alarms")]["kms_master_key_id"] == "${var.kms_key_arn}"
    dlq = found[("aws_cloudwatch_metric_alarm", "dlq_not_empty")]
    assert dlq["metric_name"] == "ApproximateNumberOfMessagesVisible"
    assert dlq["comparison_operator"] == "GreaterThanThreshold" and dlq["threshold"] == 0
    age = found[("aws_cloudwatch_metric_alarm", "oldest_job")]
    assert age["metric_name"] == "ApproximateAgeOfOldestMessage"
    dashboard = found[("aws_cloudwatch_dashboard", "this")]["dashboard_body"]
    for metric in (
        "ApproximateNumberOfMessagesNotVisible",
        "RunningTaskCount",
        "TileSeconds",
        "Errors",
    ):
        assert metric in dashboard


# --- external tools -----------------------------------------------------------------------------


def test_checkov_reports_no_failed_checks() -> None:
    checkov = os.environ.get("PIVFLEET_CHECKOV")
    if not checkov:
        pytest.skip(
            "set PIVFLEET_CHECKOV to a checkov binary to run it "
            "(python -m venv .checkov-venv && .checkov-venv/bin/pip install "
            "-r terraform/checkov-requirements.txt; PIVFLEET_CHECKOV=.checkov-venv/bin/checkov)"
        )
    completed = subprocess.run(
        [
            checkov,
            "--directory",
            str(TERRAFORM),
            "--framework",
            "terraform",
            "--quiet",
            "--compact",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE", "CKV_NO_GUIDE": "1"},
    )
    assert completed.stdout.strip(), completed.stderr[-3000:]
    report = json.loads(completed.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']}:{c['file_line_range']})"
        for r in reports
        for c in r.get("results", {}).get("failed_checks", [])
    ]
    passed = sum(r.get("summary", {}).get("passed", 0) for r in reports)
    assert not failed, "checkov failed checks:\n" + "\n".join(failed)
    assert passed > 100, f"checkov passed only {passed} checks; did it scan terraform/?"


def test_terraform_fmt() -> None:
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.skip("terraform is not on the PATH; `terraform fmt -check -recursive` not run")
    completed = subprocess.run(
        [terraform, "fmt", "-check", "-recursive", "-diff", str(TERRAFORM)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, "CHECKPOINT_DISABLE": "1"},
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_the_reconciler_runs_on_a_schedule_with_a_handler_that_exists() -> None:
    """Stalled runs are re-driven on AWS without anyone running `pivfleet reconcile`."""
    root = load_dir(TERRAFORM)
    [reconciler] = [m["reconciler"] for m in root["module"] if "reconciler" in m]
    assert reconciler["schedule_expression"] == "${var.reconcile_schedule}"
    assert "source_queue_arn" not in reconciler  # not fed by a queue
    module, attribute = reconciler["command"][0].rsplit(".", 1)
    assert callable(getattr(__import__(module, fromlist=[attribute]), attribute))
    function = list(resources(load_dir(MODULES / "function")))
    kinds = {kind for kind, _, _ in function}
    assert {"aws_cloudwatch_event_rule", "aws_cloudwatch_event_target"} <= kinds
    assert "aws_lambda_permission" in kinds


def test_algorithms_refuse_a_gpu_and_say_where_the_limit_is_documented() -> None:
    """Fargate has no GPUs: gpu > 0 fails at plan time with the doc to read, not at launch."""
    algorithms = variables(load_dir(TERRAFORM))["algorithms"]
    assert "gpu" in str(algorithms["type"])
    assert "GPUs per task, a count, and only 0" in algorithms["description"]
    gpu = [v for v in algorithms["validation"] if "a.gpu == 0" in v["condition"]]
    assert len(gpu) == 1 and "docs/algorithms.md#gpus" in gpu[0]["error_message"]
