"""The Dockerfile `pivfleet wrap` writes for a wrapped executable.

Its final stage starts `FROM` the program's own image (the spec's `DockerRequirement`) and adds
a self-contained pivfleet runtime under /opt/pivfleet: a standalone CPython
(python-build-standalone, installed by a pinned uv) with pivfleet and its locked dependencies in
a virtualenv beside it. Nothing of the image's distribution or Python is used, only its C
library (glibc 2.28 or later: the wheels are installed for manylinux_2_28). The runtime changes
nothing the program inherits: no PATH, no PYTHON* variables, no thread limits; the worker's own
interpreter runs isolated (-I). The Docker SDK builds with the classic builder, so the file
uses no BuildKit-only syntax (and names no `# syntax=` frontend image, one more unpinned
download).
"""

from __future__ import annotations

from dataclasses import dataclass

UV_IMAGE = "ghcr.io/astral-sh/uv:0.8.17"
"""The uv that installs the standalone Python and the lock (a distroless image: the binary)."""
BUILDER_IMAGE = "debian:12.9-slim"
MANYLINUX = "manylinux_2_28"
"""The wheels' platform, whatever the builder's C library: the program's image needs glibc 2.28
or later (Debian 10, Ubuntu 20.04, RHEL 8 and every CUDA or MATLAB Runtime image since)."""
PYTHON_VERSION = "3.11.13"
"""The runtime's CPython: the worker image's (docker/worker.Dockerfile)."""
RUNTIME_ROOT = "/opt/pivfleet"
RUNTIME_PYTHON = f"{RUNTIME_ROOT}/venv/bin/python"
SPECS_FOLDER = f"{RUNTIME_ROOT}/specs"
RUNTIME_USER = "10001:10001"
"""The worker image's uid and gid; numeric, so the program's image need not know the user."""
DRAIN_SECONDS = 100
"""As the worker image: SIGTERM drains within this, under compose's and ECS's 120 s."""

TEMPLATE = """\
# Written by `pivfleet wrap` from @SPEC@:
# the worker image of the wrapped executable @NAME@. Its final stage is the program's own
# image, @IMAGE@, plus a self-contained pivfleet runtime in @ROOT@
# (CPython @PYTHON@ from python-build-standalone, pivfleet @VERSION@ and its locked
# dependencies), which needs nothing of that image but glibc 2.28 or later.
#
# In this folder:        docker build -t pivfleet-worker-@NAME@ .
# Or through the SDK:    pivfleet wrap --build @SPEC@

FROM @UV_IMAGE@ AS uv

# ---------------------------------------------------------------------------------------------
# builder: the standalone CPython and a virtualenv with the lock, then pivfleet, in @ROOT@
# ---------------------------------------------------------------------------------------------
FROM @BUILDER_IMAGE@ AS builder

COPY --from=uv /uv /usr/local/bin/uv
ENV UV_PYTHON_INSTALL_DIR=@ROOT@/python \\
    UV_PYTHON_PREFERENCE=only-managed \\
    UV_NO_CACHE=1 \\
    UV_COMPILE_BYTECODE=1 \\
    UV_LINK_MODE=copy

WORKDIR /build

# 1. Python and the locked dependencies, from pyproject.toml and the lock only (cached until
#    either changes).
COPY runtime/pyproject.toml runtime/constraints.txt runtime/requirements_from_lock.py ./
RUN uv python install @PYTHON@ \\
    && uv venv --python @PYTHON@ @ROOT@/venv \\
    && @PYTHON_BIN@ requirements_from_lock.py write lock \\
        --pyproject pyproject.toml --constraints constraints.txt \\
    && uv pip install --python @PYTHON_BIN@ --only-binary=:all: \\
        --python-platform "$(uname -m)-@MANYLINUX@" \\
        -r lock/requirements.txt -c lock/constraints.txt

# 2. pivfleet itself, from the source archive of the checkout that ran `pivfleet wrap`.
COPY runtime/@SDIST@ ./
RUN uv pip install --python @PYTHON_BIN@ --no-deps @SDIST@ \\
    && @PYTHON_BIN@ requirements_from_lock.py verify lock/constraints.txt

# ---------------------------------------------------------------------------------------------
# the worker: the program's image, the runtime and the spec
# ---------------------------------------------------------------------------------------------
FROM @IMAGE@

LABEL org.opencontainers.image.title="pivfleet-worker-@NAME@" \\
      org.opencontainers.image.description="pivfleet worker for the wrapped executable @NAME@" \\
      org.opencontainers.image.base.name="@IMAGE@" \\
      io.pivfleet.algorithm="@NAME@" \\
      io.pivfleet.version="@VERSION@"

COPY --from=builder @ROOT@ @ROOT@
COPY specs/ @SPECS@/

# pivfleet's own settings only: the program inherits this environment.
ENV PIVFLEET_ALGORITHM_SPECS=@SPECS@ \\
    PIVFLEET_ALGORITHM=@NAME@ \\
    PIVFLEET_DRAIN_SECONDS=@DRAIN@

USER @USER@

# Fail here rather than in the fleet:
# @CHECK_WHY@
RUN ["@PYTHON_BIN@", "-I", "-m", "pivfleet.cli", @CHECK_ARGS@]

STOPSIGNAL SIGTERM
ENTRYPOINT ["@PYTHON_BIN@", "-I", "-u", "-m", "worker"]
CMD []
"""


@dataclass(frozen=True)
class ImageRecipe:
    """What the Dockerfile is written from."""

    name: str
    """The algorithm (the spec's id)."""
    image: str
    """The program's image (`DockerRequirement.dockerPull`)."""
    spec_file: str
    """The spec's file name in the context's specs/ folder."""
    source: str
    """The spec as the user named it (for the header)."""
    sdist: str
    """pivfleet's source archive in the context's runtime/ folder."""
    version: str
    gpu: bool
    """A GPU program cannot run at build time, so its image is only loaded, not run."""


def render_dockerfile(recipe: ImageRecipe) -> str:
    values = {
        "SPEC": recipe.source, "NAME": recipe.name, "IMAGE": recipe.image,
        "VERSION": recipe.version, "SDIST": recipe.sdist, "ROOT": RUNTIME_ROOT,
        "PYTHON": PYTHON_VERSION, "PYTHON_BIN": RUNTIME_PYTHON, "SPECS": SPECS_FOLDER,
        "UV_IMAGE": UV_IMAGE, "BUILDER_IMAGE": BUILDER_IMAGE, "USER": RUNTIME_USER,
        "DRAIN": str(DRAIN_SECONDS), "MANYLINUX": MANYLINUX, **check_step(recipe),
    }  # fmt: skip
    text = TEMPLATE
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    return text


def check_step(recipe: ImageRecipe) -> dict[str, str]:
    """The build-time check: the spec run once on a sample pair (the runtime imports on this
    image's C library, the command is found, its output reads back); a GPU program's spec is
    only loaded, since a build has no GPU."""
    spec = f"{SPECS_FOLDER}/{recipe.spec_file}"
    if recipe.gpu:
        why = "the runtime imports on this image's C library and the spec loads (no GPU here)."
        return {"CHECK_WHY": why, "CHECK_ARGS": '"algorithms"'}
    why = "the spec runs once on a sample pair, as the user the worker runs as."
    return {"CHECK_WHY": why, "CHECK_ARGS": f'"wrap", "--check", "{spec}"'}
