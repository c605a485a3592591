"""The build context `pivfleet wrap` writes for a wrapped executable: everything `docker build`
needs, so it can be built here or on any machine with an engine.

    DIR/Dockerfile              FROM the program's image, plus pivfleet (wrapped_dockerfile)
    DIR/compose.override.yml    its worker service for docker-compose.yml (compose_service)
    DIR/specs/<id>.cwl.yml      the spec, as given
    DIR/runtime/pyproject.toml, constraints.txt, requirements_from_lock.py    the lock
    DIR/runtime/pivfleet-<version>.tar.gz     pivfleet's source archive (an sdist) of this checkout

The archive is made from the checkout pivfleet runs from, byte for byte the same for the same
files (fixed times and owners), so an unchanged checkout reuses the image's cached layers.
"""

from __future__ import annotations

import gzip
import io
import re
import shutil
import tarfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pivfleet
from pivfleet.algorithms.compose_service import render_compose
from pivfleet.algorithms.wrapped_dockerfile import ImageRecipe, render_dockerfile
from pivfleet.core.algorithm_spec import SPEC_SUFFIXES, AlgorithmSpec, read_spec
from pivfleet.core.errors import SettingsError

LOCK_FILES = {
    "pyproject.toml": "pyproject.toml",
    "constraints.txt": "constraints.txt",
    "requirements_from_lock.py": "docker/requirements_from_lock.py",
}
"""The lock's files in the context's runtime/ folder, and where each is in the checkout."""
ARCHIVE_MTIME = 0
"""Seconds since the epoch, for every member and the gzip header: the same files, the same bytes."""
MARKER = "# Written by `pivfleet wrap`"
"""How a folder wrap may overwrite is recognised: its Dockerfile starts with this."""
UNPINNED_TAGS = ("", "latest")


@dataclass(frozen=True)
class BuildContext:
    folder: Path
    spec: AlgorithmSpec
    image: str
    """The program's image, FROM which the worker image builds."""


@dataclass(frozen=True)
class Checkout:
    """pivfleet's source tree: what the archive is made of."""

    root: Path

    @classmethod
    def running(cls) -> Checkout:
        """The checkout this pivfleet runs from (an editable install or PYTHONPATH)."""
        root = Path(pivfleet.__file__).resolve().parents[1]
        missing = [f for f in LOCK_FILES.values() if not (root / f).is_file()]
        if missing:
            raise SettingsError(
                f"pivfleet wrap packs the pivfleet it runs from, but {root} is not a pivfleet "
                f"checkout (no {', '.join(missing)}): run it from a clone (`pip install -e .`)"
            )
        return cls(root)

    @property
    def project(self) -> dict[str, object]:
        document = tomllib.loads((self.root / "pyproject.toml").read_text(encoding="utf-8"))
        project: dict[str, object] = document["project"]
        return project

    @property
    def version(self) -> str:
        return str(self.project["version"])

    def files(self) -> list[Path]:
        """The sdist's files, relative to the root: pyproject.toml, the readme, and every file
        of the packages pyproject.toml includes (no caches)."""
        readme = str(self.project.get("readme", "README.md"))
        found = [Path("pyproject.toml"), Path(readme)]
        for package in self.packages():
            found += sorted(
                path.relative_to(self.root)
                for path in package.rglob("*")
                if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
            )
        return found

    def packages(self) -> list[Path]:
        document = tomllib.loads((self.root / "pyproject.toml").read_text(encoding="utf-8"))
        patterns = document["tool"]["setuptools"]["packages"]["find"]["include"]
        tops = {pattern.split(".")[0].rstrip("*") for pattern in patterns}
        found = (self.root / top for top in tops)
        return sorted(folder for folder in found if (folder / "__init__.py").is_file())


def write_build_context(
    spec_path: Path, out: Path, compose_context: str, checkout: Checkout
) -> BuildContext:
    """Validate the spec and write its build context into `out` (see the module doc)."""
    spec = read_spec(spec_path)
    image = pinned_image(spec, spec_path)
    prepare_folder(out)
    spec_file = spec_file_name(spec, spec_path)
    (out / "specs").mkdir()
    shutil.copyfile(spec_path, out / "specs" / spec_file)
    archive = write_runtime(out / "runtime", checkout)
    recipe = ImageRecipe(
        spec.name, image, spec_file, str(spec_path), archive.name, checkout.version,
        gpu=spec.hints.cuda is not None,
    )  # fmt: skip
    (out / "Dockerfile").write_text(render_dockerfile(recipe), encoding="utf-8")
    compose = render_compose(spec, compose_context, spec_file, str(spec_path))
    (out / "compose.override.yml").write_text(compose, encoding="utf-8")
    return BuildContext(out, spec, image)


def spec_file_name(spec: AlgorithmSpec, spec_path: Path) -> str:
    """`<id>.cwl.yml` (or the spec's own suffix): a name PIVFLEET_ALGORITHM_SPECS finds, and
    one no other algorithm's spec has in a folder they share."""
    suffix = next((s for s in SPEC_SUFFIXES if spec_path.name.endswith(s)), ".cwl.yml")
    return f"{spec.name}{suffix}"


def pinned_image(spec: AlgorithmSpec, spec_path: Path) -> str:
    """The program's image; refused when absent or not pinned to a version or digest (a
    rebuild must find the same program)."""
    docker = spec.requirements.docker
    if docker is None:
        raise SettingsError(
            f"{spec_path}: requirements.DockerRequirement: missing; wrap builds FROM the "
            "program's image: add `DockerRequirement: {dockerPull: IMAGE:VERSION}`"
        )
    image = docker.docker_pull
    name, _, digest = image.partition("@")
    tag = name.rpartition("/")[2].partition(":")[2]
    if not digest and tag in UNPINNED_TAGS:
        raise SettingsError(
            f"{spec_path}: requirements.DockerRequirement.dockerPull {image!r} is not pinned: "
            "name a version tag or a digest, e.g. 'lab/piv:1.2' or 'lab/piv@sha256:…'"
        )
    if re.search(r"\s", image):
        raise SettingsError(f"{spec_path}: dockerPull {image!r} has spaces: name one image")
    return image


def prepare_folder(out: Path) -> None:
    """An empty `out`, or one wrap wrote before (its specs/ and runtime/ replaced); anything
    else is refused rather than overwritten."""
    if out.exists() and not out.is_dir():
        raise SettingsError(f"--out {out} is a file: name a folder")
    dockerfile = out / "Dockerfile"
    ours = dockerfile.is_file() and dockerfile.read_text(encoding="utf-8").find(MARKER) >= 0
    if out.exists() and any(out.iterdir()) and not ours:
        raise SettingsError(
            f"--out {out} is not empty and not a folder pivfleet wrap wrote: choose a new folder"
        )
    for folder in ("specs", "runtime"):
        shutil.rmtree(out / folder, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)


def write_runtime(folder: Path, checkout: Checkout) -> Path:
    """The lock's files and pivfleet's source archive in `folder`; the archive's path."""
    folder.mkdir()
    for name, source in LOCK_FILES.items():
        shutil.copyfile(checkout.root / source, folder / name)
    archive = folder / f"pivfleet-{checkout.version}.tar.gz"
    archive.write_bytes(source_archive(checkout))
    return archive


def source_archive(checkout: Checkout) -> bytes:
    """An sdist of the checkout: `pivfleet-<version>/` with PKG-INFO and the files."""
    top = f"pivfleet-{checkout.version}"
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w", format=tarfile.PAX_FORMAT) as tar:
        pkg_info = f"Metadata-Version: 2.1\nName: pivfleet\nVersion: {checkout.version}\n"
        add_member(tar, f"{top}/PKG-INFO", pkg_info.encode())
        for relative in checkout.files():
            add_member(tar, f"{top}/{relative.as_posix()}", (checkout.root / relative).read_bytes())
    return gzip.compress(tar_bytes.getvalue(), mtime=ARCHIVE_MTIME)


def add_member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), ARCHIVE_MTIME, 0o644
    tar.addfile(info, io.BytesIO(data))
