"""Static checks of docker-compose.yml (no Docker engine needed).

The file is validated against the Compose Specification JSON schema. The schema is the copy that
check-jsonschema (dev extra) vendors as `vendor.compose-spec` (the compose-spec project's
schema/compose-spec.json, Apache-2.0; the licence ships beside it in that package), so no
network is needed. Then the promises of the stack are asserted: the pinned LocalStack, the
bootstrap ordering, a scalable worker, stop timeouts longer than the drain, commands that exist in
this repository, and one .env.example that documents every variable the file reads.
"""

from __future__ import annotations

import ast
import copy
import json
import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
OVERRIDE = REPO / "examples" / "compose.override.yml"
ENV_EXAMPLE = REPO / ".env.example"
LOCALSTACK_IMAGE = "localstack/localstack:4.13.1"
FARGATE_MAX_STOP_TIMEOUT_SECONDS = 120
AWS_FIXED = {
    "AWS_ENDPOINT_URL": "http://localstack:4566",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
}
# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}, $VAR; `$$` is a literal dollar.
INTERPOLATION = re.compile(r"(?<!\$)\$(?:\{(\w+)(?:(:?[-?+])([^}]*))?\}|([A-Za-z_]\w*))")


def load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load(COMPOSE)


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def compose_schema() -> dict[str, Any]:
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    schema: dict[str, Any] = json.loads(vendor.joinpath("compose-spec.json").read_text("utf-8"))
    return schema


def schema_errors(document: dict[str, Any]) -> list[str]:
    schema = compose_schema()
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(document)
    ]


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def command(service: dict[str, Any]) -> list[str]:
    entrypoint = service.get("entrypoint") or []
    cmd = service.get("command") or []
    parts = [*entrypoint, *cmd] if isinstance(entrypoint, list) else [entrypoint, *cmd]
    return [str(p) for p in parts]


def default_of(value: str) -> str:
    """The value compose uses when the variable is unset: `${VAR:-default}` -> `default`."""
    return INTERPOLATION.sub(lambda m: m.group(3) or "", value)


def seconds(duration: str) -> float:
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, duration
    return sum(float(n) * units[u] for n, u in parts)


def env_example() -> dict[str, str]:
    values: dict[str, str] = {}
    for raw in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f".env.example: {line!r} is not KEY=value"
            values[key.strip()] = value.strip()
    return values


def uses_aws(service: dict[str, Any]) -> bool:
    return "AWS_ENDPOINT_URL" in environment(service)


# --------------------------------------------------------------------------------------------
# Schema
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", [COMPOSE, OVERRIDE], ids=lambda p: p.name)
def test_validates_against_the_compose_specification(path: Path) -> None:
    assert schema_errors(load(path)) == []


def test_the_schema_rejects_a_broken_file(compose: dict[str, Any]) -> None:
    """Guard against a validator that accepts anything (e.g. a draft it cannot evaluate)."""
    broken = copy.deepcopy(compose)
    broken["services"]["worker"]["stop_grace_perod"] = "120s"
    broken["services"]["collector"]["depends_on"]["bootstrap"]["condition"] = "service_done"
    errors = schema_errors(broken)
    assert any("stop_grace_perod" in e for e in errors), errors
    assert any("service_done" in e for e in errors), errors


# --------------------------------------------------------------------------------------------
# LocalStack
# --------------------------------------------------------------------------------------------
def test_localstack_is_pinned_with_s3_and_sqs_only(services: dict[str, dict[str, Any]]) -> None:
    localstack = services["localstack"]
    assert localstack["image"] == LOCALSTACK_IMAGE
    env = environment(localstack)
    assert env["SERVICES"] == "s3,sqs"
    assert env["LOCALSTACK_AUTH_TOKEN"] == "${LOCALSTACK_AUTH_TOKEN:-}", "passed through, optional"


def test_localstack_has_a_healthcheck(services: dict[str, dict[str, Any]]) -> None:
    check = services["localstack"]["healthcheck"]
    assert not check.get("disable")
    test = check["test"]
    assert test[0] in {
        "CMD",
        "CMD-SHELL",
    } and "http://localhost:4566/_localstack/health" in " ".join(test)
    assert int(check["retries"]) * seconds(check["interval"]) >= 60, "give LocalStack a minute"


def test_localstack_state_is_a_named_volume(compose: dict[str, Any]) -> None:
    mounts = compose["services"]["localstack"]["volumes"]
    named = [m.split(":")[0] for m in mounts if m.split(":")[1] == "/var/lib/localstack"]
    assert named and named[0] in (compose.get("volumes") or {}), "declared under top-level volumes"


# --------------------------------------------------------------------------------------------
# Start order
# --------------------------------------------------------------------------------------------
def test_bootstrap_runs_once_after_localstack_is_healthy(
    services: dict[str, dict[str, Any]],
) -> None:
    bootstrap = services["bootstrap"]
    assert command(bootstrap) == ["pivfleet", "bootstrap"]
    assert bootstrap["depends_on"]["localstack"]["condition"] == "service_healthy"
    assert bootstrap.get("restart", "no") == "no"


def test_everything_that_talks_to_aws_waits_for_the_bootstrap(
    services: dict[str, dict[str, Any]],
) -> None:
    waiting = {name for name, s in services.items() if uses_aws(s) and name != "bootstrap"}
    assert waiting >= {"dispatcher", "worker", "collector"}
    for name in waiting:
        depends = services[name]["depends_on"]
        assert isinstance(depends, dict), f"{name}: depends_on needs conditions"
        assert depends["bootstrap"]["condition"] == "service_completed_successfully", name


def test_containers_talk_to_localstack_with_fixed_credentials(
    services: dict[str, dict[str, Any]],
) -> None:
    """Never interpolated from the shell: real AWS keys there must not reach the stack."""
    for name, service in services.items():
        if name == "localstack":
            continue
        env = environment(service)
        assert uses_aws(service), f"{name} has no AWS environment"
        for key, value in AWS_FIXED.items():
            assert env[key] == value, f"{name}: {key}"


# --------------------------------------------------------------------------------------------
# Services and their commands
# --------------------------------------------------------------------------------------------
def test_the_worker_scales(services: dict[str, dict[str, Any]]) -> None:
    worker = services["worker"]
    assert "container_name" not in worker and "ports" not in worker
    assert command(worker) == ["python", "-m", "worker"]
    for name, service in services.items():
        assert "container_name" not in service, f"{name}: a fixed name blocks a second stack"


def test_worker_stop_grace_period_exceeds_the_drain(services: dict[str, dict[str, Any]]) -> None:
    worker = services["worker"]
    grace = seconds(worker["stop_grace_period"])
    drain = float(default_of(environment(worker)["PIVFLEET_DRAIN_SECONDS"]))
    assert drain == float(env_example()["PIVFLEET_DRAIN_SECONDS"])
    assert drain < grace <= FARGATE_MAX_STOP_TIMEOUT_SECONDS
    assert worker.get("stop_signal", "SIGTERM") == "SIGTERM"


def test_the_dispatcher_runs_the_lambda_image_as_a_poller(
    services: dict[str, dict[str, Any]],
) -> None:
    dispatcher = services["dispatcher"]
    assert dispatcher["build"]["dockerfile"] == "docker/dispatcher.Dockerfile"
    assert dispatcher["entrypoint"][1:] == ["-m", "dispatcher"]
    assert dispatcher["command"] == [], "drop the image's CMD (the Lambda handler name)"


def test_the_collector_runs_from_the_worker_image(services: dict[str, dict[str, Any]]) -> None:
    collector = services["collector"]
    assert collector["build"] == services["worker"]["build"]
    assert collector["image"] == services["worker"]["image"]
    assert command(collector) == ["python", "-m", "collector"]


def test_build_contexts_and_dockerfiles_exist(services: dict[str, dict[str, Any]]) -> None:
    images: dict[str, Any] = {}
    for name, service in services.items():
        build = service.get("build")
        if build is None:
            continue
        assert (REPO / build["context"] / build["dockerfile"]).is_file(), name
        # Services that share an image share its build, so compose builds it once.
        assert images.setdefault(service["image"], build) == build, name


def console_scripts() -> dict[str, str]:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    scripts: dict[str, str] = pyproject["project"]["scripts"]
    return scripts


def assert_command_exists(argv: list[str]) -> None:
    """`python -m pkg` needs pkg/__main__.py; a console script needs its module and function."""
    if argv[0] in {"python", "python3"}:
        assert argv[1] == "-m", argv
        package = REPO.joinpath(*argv[2].split("."))
        assert (package / "__main__.py").is_file() or package.with_suffix(".py").is_file(), (
            f"`{' '.join(argv)}` needs {argv[2]}/__main__.py"
        )
        return
    scripts = console_scripts()
    assert argv[0] in scripts, f"{argv[0]} is not a console script in pyproject.toml"
    module, _, function = scripts[argv[0]].partition(":")
    path = REPO.joinpath(*module.split(".")).with_suffix(".py")
    assert path.is_file(), f"{argv[0]} -> {module} ({path}) does not exist"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert function in names, f"{path} has no function {function}()"


@pytest.mark.parametrize("name", ["bootstrap", "dispatcher", "worker", "collector"])
def test_service_commands_exist_in_the_code(services: dict[str, dict[str, Any]], name: str) -> None:
    assert_command_exists(command(services[name]))


# --------------------------------------------------------------------------------------------
# Variables
# --------------------------------------------------------------------------------------------
def interpolations(text: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for match in INTERPOLATION.finditer(text):
        name = match.group(1) or match.group(4)
        found.setdefault(name, set()).add(match.group(3) or "")
    return found


def compose_text_without_comments() -> str:
    lines = COMPOSE.read_text(encoding="utf-8").splitlines()
    return "\n".join(line for line in lines if not line.lstrip().startswith("#"))


def test_env_example_documents_every_variable_and_matches_the_defaults() -> None:
    used = interpolations(compose_text_without_comments())
    example = env_example()
    assert set(used) == set(example), (
        f"in docker-compose.yml only: {sorted(set(used) - set(example))}; "
        f"in .env.example only: {sorted(set(example) - set(used))}"
    )
    for name, defaults in used.items():
        # `docker compose up` without a .env behaves exactly like `cp .env.example .env`.
        assert defaults == {example[name]}, f"{name}: defaults {defaults} vs {example[name]!r}"
    assert not any(name.startswith("AWS_") for name in used), "AWS_* stay fixed in the file"


def test_every_variable_has_a_default() -> None:
    for match in INTERPOLATION.finditer(compose_text_without_comments()):
        assert match.group(2) in {":-", "-"}, f"{match.group(0)} needs an inline default"
