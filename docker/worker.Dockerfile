# syntax=docker/dockerfile:1
#
# pivfleet worker image: `python -m worker` long-polls pivfleet-jobs-<algorithm>.
#
#   docker build -f docker/worker.Dockerfile -t pivfleet-worker .        (or `make images`)
#
# The same image runs, with another command:
#   pivfleet bootstrap       the one-shot bootstrap service in docker-compose.yml
#   python -m collector      the collector poller in docker-compose.yml
# and it is the base of custom-algorithm images: `FROM pivfleet-worker:<version>`, pip install a
# plugin that registers under the `pivfleet.algorithms` entry-point group, set PIVFLEET_ALGORITHM
# (docker/algorithm.Dockerfile does exactly that; docs/containers.md explains it).
#
# Stop story: the worker drains on SIGTERM (stop receiving, finish or release the tile in hand)
# within PIVFLEET_DRAIN_SECONDS (100 s); ECS stopTimeout (at most 120 s on Fargate) and compose's
# stop_grace_period (120 s) give it that long before SIGKILL.

ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

# ---------------------------------------------------------------------------------------------
# builder: a virtualenv at /opt/venv with the locked dependencies, then the project (non-editable)
# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src

# 1. Dependencies, from pyproject.toml and the lock only: this layer is reused until either changes.
#    OpenPIV, numpy, scipy, h5py, matplotlib, pydantic-core all ship manylinux wheels, so no compiler.
COPY pyproject.toml constraints.txt ./
COPY docker/requirements_from_lock.py docker/
RUN python docker/requirements_from_lock.py write /opt/pivfleet \
        --pyproject pyproject.toml --constraints constraints.txt \
    && pip install --no-cache-dir --only-binary=:all: \
        -r /opt/pivfleet/requirements.txt -c /opt/pivfleet/constraints.txt

# 2. The project itself, non-editable and without touching the dependencies installed above.
COPY README.md ./
COPY pivfleet/ pivfleet/
COPY worker/ worker/
COPY dispatcher/ dispatcher/
COPY collector/ collector/
RUN pip install --no-cache-dir --no-deps . \
    && python docker/requirements_from_lock.py verify /opt/pivfleet/constraints.txt \
    && python -c "import importlib.util as u; \
missing = [m for m in ('worker.__main__', 'collector.__main__', 'pivfleet.cli') if u.find_spec(m) is None]; \
assert not missing, f'entry modules missing from the image: {missing}'"

# ---------------------------------------------------------------------------------------------
# worker: the runtime; only the virtualenv and the lock travel from the builder
# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS worker

ARG VERSION=0.0.0+local
ARG REVISION=unknown
ARG SOURCE=""

LABEL org.opencontainers.image.title="pivfleet-worker" \
      org.opencontainers.image.description="pivfleet queue worker: multi-pass window-deformation PIV (OpenPIV) tiles from SQS" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.documentation="docs/containers.md"

# A fixed numeric uid so Kubernetes-style runAsNonRoot checks and bind mounts can rely on it.
RUN groupadd --system --gid 10001 pivfleet \
    && useradd --system --uid 10001 --gid pivfleet --create-home --home-dir /home/pivfleet \
        --shell /usr/sbin/nologin pivfleet

COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /opt/pivfleet/constraints.txt /opt/pivfleet/constraints.txt

# PIP_CONSTRAINT keeps the lock in force for images built FROM this one (algorithm plugins):
# a plugin can add packages but cannot move numpy, OpenPIV or any other locked version.
# One BLAS/OpenMP thread per process: the worker already runs one process per core. numba
# caches the fast engine's compiled deformation where the unprivileged user may write.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_CONSTRAINT=/opt/pivfleet/constraints.txt \
    MPLCONFIGDIR=/tmp/matplotlib \
    NUMBA_CACHE_DIR=/tmp/numba \
    OMP_NUM_THREADS=1 \
    OPENBLAS_NUM_THREADS=1 \
    PIVFLEET_ALGORITHM=windef \
    PIVFLEET_DRAIN_SECONDS=100

WORKDIR /home/pivfleet
USER 10001:10001

STOPSIGNAL SIGTERM
CMD ["python", "-m", "worker"]
