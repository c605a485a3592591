"""The rooms of `pivfleet/` and what each may import (docs/architecture.md).

Read from the source with `ast`, lazy imports inside functions included, so a module that
reaches above its layer fails here before it confuses the next reader.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "pivfleet"
ENTRY_FOLDERS = ("worker", "dispatcher", "collector")
ROOMS = ("core", "engine", "algorithms", "roles", "transports", "cloud", "cli")
MAY_IMPORT = {
    "core": {"core"},
    "engine": {"core", "engine"},
    "algorithms": {"core", "engine", "algorithms"},
    "roles": {"core", "engine", "algorithms", "roles"},
    "transports": {"core", "transports"},
    "cloud": {"core", "engine", "algorithms", "roles", "transports", "cloud"},
    "cli": set(ROOMS),
}
AWS_PACKAGES = ("boto3", "botocore", "mypy_boto3_s3", "mypy_boto3_sqs")
AWS_ROOMS = {"transports", "cloud"}
ENVIRONMENT_READERS = ("os.environ", "os.getenv", "environ.get")
ENTRY_POINT_MAX_LINES = 60


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def room_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "pivfleet" and parts[1] in ROOMS else None


def library_files() -> list[Path]:
    """Every module in a room (pivfleet/__init__.py holds only the version)."""
    return sorted(p for p in PACKAGE.rglob("*.py") if p.parent != PACKAGE)


def product_files() -> list[Path]:
    entries = [p for folder in ENTRY_FOLDERS for p in sorted((REPO / folder).glob("*.py"))]
    return library_files() + entries


def test_every_module_lives_in_a_room() -> None:
    loose = [p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py"]
    assert not loose, f"modules outside the rooms of pivfleet/: {loose}"
    assert {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"} == set(
        ROOMS
    )


@pytest.mark.parametrize("path", library_files(), ids=module_name)
def test_a_module_imports_only_the_rooms_below_it(path: Path) -> None:
    room = room_of(module_name(path))
    assert room is not None
    reached = {room_of(m) for m in imported_modules(path)} - {None}
    assert reached <= MAY_IMPORT[room], (
        f"{module_name(path)} ({room}/) imports {sorted(reached - MAY_IMPORT[room])}; "
        f"{room}/ may import {sorted(MAY_IMPORT[room])}"
    )


@pytest.mark.parametrize("path", library_files(), ids=module_name)
def test_aws_sdk_only_in_transports_and_cloud(path: Path) -> None:
    if room_of(module_name(path)) in AWS_ROOMS:
        return
    aws = sorted(m for m in imported_modules(path) if m.split(".")[0] in AWS_PACKAGES)
    assert not aws, f"{module_name(path)} imports {aws}: only transports/ and cloud/ may"


@pytest.mark.parametrize("path", library_files(), ids=module_name)
def test_only_cloud_configuration_reads_the_environment(path: Path) -> None:
    if module_name(path) == "pivfleet.cloud.config":
        return
    text = path.read_text(encoding="utf-8")
    readers = [r for r in ENVIRONMENT_READERS if r in text]
    assert not readers, f"{module_name(path)} reads the environment ({readers}): use CloudConfig"


def test_entry_points_stay_short() -> None:
    entries = [p for folder in ENTRY_FOLDERS for p in (REPO / folder).glob("*.py")]
    for path in [*entries, PACKAGE / "cli" / "main.py"]:
        lines = len(path.read_text(encoding="utf-8").splitlines())
        assert lines <= ENTRY_POINT_MAX_LINES, f"{path.relative_to(REPO)}: {lines} lines"


def test_every_library_module_is_used_by_the_product() -> None:
    """No module under pivfleet/ that only tests use: each is imported by product code or named
    in pyproject.toml (console script, algorithm entry points)."""
    used = set().union(*(imported_modules(p) for p in product_files()))
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    named = [*project["scripts"].values(), *project["entry-points"]["pivfleet.algorithms"].values()]
    used |= {target.split(":")[0] for target in named}
    modules = {module_name(p) for p in library_files() if p.stem not in ("__init__", "__main__")}
    unused = sorted(m for m in modules if m not in used)
    assert not unused, f"modules no product code imports: {unused}"


def test_the_product_registers_only_real_algorithms() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert set(project["entry-points"]["pivfleet.algorithms"]) == {"windef"}


def test_the_rule_catches_a_role_reaching_for_a_transport(tmp_path: Path) -> None:
    """The checker itself: a roles/ module importing an S3 transport is reported."""
    bad = tmp_path / "bad.py"
    bad.write_text("from pivfleet.transports.s3 import S3BlobStore\nimport boto3\n")
    reached = {room_of(m) for m in imported_modules(bad)} - {None}
    assert reached - MAY_IMPORT["roles"] == {"transports"}
    assert "boto3" in imported_modules(bad)
