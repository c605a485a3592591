#!/usr/bin/env python3
"""Turn the project's lock (``constraints.txt``) into what an image build feeds to pip.

Used by ``docker/worker.Dockerfile`` and ``docker/dispatcher.Dockerfile`` so that the dependency
layer is built from ``pyproject.toml`` and the lock alone, before any source is copied (a source
edit then reuses the cached dependency layer). The container-contract test can run it the same
way to install the project exactly as the images do.

    python docker/requirements_from_lock.py write OUTDIR [--pyproject F] [--constraints F]
        OUTDIR/requirements.txt  the runtime dependencies, ``[project].dependencies``
        OUTDIR/constraints.txt   the lock without the project itself and without editable,
                                 VCS or local-path lines (pip refuses those as constraints)
        Fails, naming the package, when a runtime dependency has no ``==`` pin in the lock.

    python docker/requirements_from_lock.py verify CONSTRAINTS [--path DIR]
        Fails when a distribution installed in DIR (default: this interpreter's sys.path) is not
        in the lock at the same version, so an image can never ship an unlocked package.

Standard library only: it runs on the bare base images before anything is installed.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

PROJECT = "pivfleet"
# Installed by `python -m venv` or the base image itself; not part of the project's lock.
BOOTSTRAP_DISTRIBUTIONS = frozenset({"pip", "setuptools", "wheel", PROJECT})

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*===?\s*([^\s;#]+)")


def normalize(name: str) -> str:
    """PEP 503 name normalisation: ``PyYAML`` is ``pyyaml``, ``pydantic_core`` ``pydantic-core``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    match = _NAME.match(requirement)
    if match is None:
        raise SystemExit(f"cannot read a package name from requirement {requirement!r}")
    return normalize(match.group(1))


def clean_lock(lines: list[str]) -> tuple[list[str], dict[str, str]]:
    """Lines pip accepts as constraints, and the pins they hold (normalised name -> version)."""
    kept: list[str] = []
    pins: dict[str, str] = {}
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(("-e", "--editable")):
            continue  # `pip freeze` lists the editable project itself this way
        if line.startswith("-"):
            kept.append(line)  # pip options such as --index-url stay as they are
            continue
        name = requirement_name(line)
        if name == PROJECT:
            continue
        if " @ " in line or line.startswith(("git+", "file:", "http:", "https:")):
            print(
                f"requirements_from_lock: dropping non-portable lock line {line!r}", file=sys.stderr
            )
            continue
        pin = _PIN.match(line)
        if pin is not None:
            pins[normalize(pin.group(1))] = pin.group(2)
        kept.append(line)
    return kept, pins


def runtime_requirements(pyproject: Path) -> list[str]:
    with pyproject.open("rb") as handle:
        project = tomllib.load(handle)["project"]
    return list(project.get("dependencies", []))


def write(outdir: Path, pyproject: Path, constraints: Path) -> int:
    if not constraints.is_file():
        raise SystemExit(
            f"{constraints} is missing: the images install only locked versions. "
            "Create it in a working virtualenv: `pip freeze --exclude-editable > constraints.txt`."
        )
    requirements = runtime_requirements(pyproject)
    kept, pins = clean_lock(constraints.read_text(encoding="utf-8").splitlines())
    unpinned = sorted({requirement_name(r) for r in requirements} - pins.keys())
    if unpinned:
        raise SystemExit(
            f"{constraints} has no `==` pin for {', '.join(unpinned)}: the lock is older than "
            f"{pyproject}. Regenerate it (`pip freeze --exclude-editable > constraints.txt`)."
        )
    outdir.mkdir(parents=True, exist_ok=True)
    (outdir / "requirements.txt").write_text("\n".join(requirements) + "\n", encoding="utf-8")
    (outdir / "constraints.txt").write_text("\n".join(kept) + "\n", encoding="utf-8")
    print(f"requirements_from_lock: {len(requirements)} requirements, {len(pins)} pins -> {outdir}")
    return 0


def verify(constraints: Path, path: list[str] | None) -> int:
    _, pins = clean_lock(constraints.read_text(encoding="utf-8").splitlines())
    problems: list[str] = []
    seen: set[str] = set()
    for dist in metadata.distributions(path=path) if path else metadata.distributions():
        name = normalize(dist.metadata["Name"] or "")
        if not name or name in seen or name in BOOTSTRAP_DISTRIBUTIONS:
            continue
        seen.add(name)
        if name not in pins:
            problems.append(f"{name}=={dist.version} is installed but not in the lock")
        elif pins[name] != dist.version:
            problems.append(f"{name}=={dist.version} is installed but the lock pins {pins[name]}")
    if problems:
        print("requirements_from_lock: the install drifted from the lock:", file=sys.stderr)
        for problem in sorted(problems):
            print(f"  {problem}", file=sys.stderr)
        return 1
    print(f"requirements_from_lock: {len(seen)} installed distributions match the lock")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    write_cmd = commands.add_parser("write", help="write requirements.txt and constraints.txt")
    write_cmd.add_argument("outdir", type=Path)
    write_cmd.add_argument("--pyproject", type=Path, default=Path("pyproject.toml"))
    write_cmd.add_argument("--constraints", type=Path, default=Path("constraints.txt"))
    verify_cmd = commands.add_parser(
        "verify", help="check installed distributions against the lock"
    )
    verify_cmd.add_argument("constraints", type=Path)
    verify_cmd.add_argument("--path", action="append", help="site directory to check (repeatable)")
    args = parser.parse_args(argv)
    if args.command == "write":
        return write(args.outdir, args.pyproject, args.constraints)
    return verify(args.constraints, args.path)


if __name__ == "__main__":
    raise SystemExit(main())
