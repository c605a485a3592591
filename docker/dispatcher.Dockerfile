# syntax=docker/dockerfile:1
#
# pivfleet Lambda image: the dispatcher (uploads queue -> tile jobs) and, with another CMD, the
# collector (results queue -> stitched outputs).
#
#   docker build --provenance=false -f docker/dispatcher.Dockerfile -t pivfleet-dispatcher .
#
#   dispatcher Lambda:  CMD as below, dispatcher.handler.handle
#   collector Lambda:   the same image, image_config.command = ["collector.handler.handle"]
#                       (Terraform) -- recorded in the io.pivfleet.collector-handler label below
#   compose/local:      entrypoint ["python3", "-m", "dispatcher"] runs the poller, which long-polls
#                       the uploads queue and calls the same handler (docker-compose.yml)
#
# Base image: the AWS Lambda Python 3.12 base (Amazon Linux 2023, glibc 2.34). The Python 3.11
# Lambda base is Amazon Linux 2 (glibc 2.26), and the locked numpy/scipy ship only
# manylinux_2_28 wheels, so the lock cannot be installed there without compiling; the 3.12 base
# takes the very same constraints.txt as wheels (checked with `pip install --dry-run
# --only-binary=:all: --python-version 3.12`). pivfleet requires Python >= 3.11.
#
# --provenance=false: Lambda accepts a single-platform image manifest, not the index that
# BuildKit's default provenance attestation produces.

ARG LAMBDA_IMAGE=public.ecr.aws/lambda/python:3.12.2025.04.01.18

# ---------------------------------------------------------------------------------------------
# builder: the locked dependencies, then the project, into ${LAMBDA_TASK_ROOT} (/var/task)
# ---------------------------------------------------------------------------------------------
FROM ${LAMBDA_IMAGE} AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

WORKDIR /build

# 1. Dependencies from pyproject.toml and the lock only (cached until either changes).
COPY pyproject.toml constraints.txt ./
COPY docker/requirements_from_lock.py docker/
RUN python3 docker/requirements_from_lock.py write /build/lock \
        --pyproject pyproject.toml --constraints constraints.txt \
    && pip install --no-cache-dir --only-binary=:all: --target "${LAMBDA_TASK_ROOT}" \
        -r /build/lock/requirements.txt -c /build/lock/constraints.txt

# 2. The project, non-editable, without touching the dependencies.
COPY README.md ./
COPY pivfleet/ pivfleet/
COPY worker/ worker/
COPY dispatcher/ dispatcher/
COPY collector/ collector/
RUN pip install --no-cache-dir --no-deps --target "${LAMBDA_TASK_ROOT}" . \
    && python3 docker/requirements_from_lock.py verify /build/lock/constraints.txt \
        --path "${LAMBDA_TASK_ROOT}" \
    && PYTHONPATH="${LAMBDA_TASK_ROOT}" python3 -c "import importlib.util as u; \
missing = [m for m in ('dispatcher.handler', 'dispatcher.__main__', 'collector.handler') if u.find_spec(m) is None]; \
assert not missing, f'handler modules missing from the image: {missing}'"

# ---------------------------------------------------------------------------------------------
# dispatcher: the Lambda base plus ${LAMBDA_TASK_ROOT}; no build directory, no pip cache
# ---------------------------------------------------------------------------------------------
FROM ${LAMBDA_IMAGE} AS dispatcher

ARG VERSION=0.0.0+local
ARG REVISION=unknown
ARG SOURCE=""

LABEL org.opencontainers.image.title="pivfleet-dispatcher" \
      org.opencontainers.image.description="pivfleet Lambda image: dispatcher (uploads -> tile jobs) and collector (results -> outputs)" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.documentation="docs/containers.md" \
      io.pivfleet.dispatcher-handler="dispatcher.handler.handle" \
      io.pivfleet.collector-handler="collector.handler.handle"

COPY --from=builder ${LAMBDA_TASK_ROOT} ${LAMBDA_TASK_ROOT}

# Lambda's file system is read-only except /tmp (numba caches the fast engine's compiled
# replacement, which the collector runs on pass-synchronous pairs, there).
ENV PYTHONDONTWRITEBYTECODE=1 \
    MPLCONFIGDIR=/tmp/matplotlib \
    NUMBA_CACHE_DIR=/tmp/numba

# The Lambda runtime runs the handler as an unprivileged sandbox user; the base image sets no USER
# and its entrypoint (/lambda-entrypoint.sh -> the runtime interface client) takes the handler
# from CMD. SIGTERM is what Lambda sends at shutdown.
STOPSIGNAL SIGTERM
CMD ["dispatcher.handler.handle"]
