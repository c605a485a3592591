# syntax=docker/dockerfile:1
#
# A custom-algorithm worker image: the pivfleet worker image plus one Python plugin package that
# registers its algorithm under the `pivfleet.algorithms` entry-point group.
#
#   docker build -f docker/algorithm.Dockerfile \
#       --build-arg ALGORITHM=myalgo \
#       -t pivfleet-worker-myalgo  path/to/my-plugin-project
#
# The build context is the plugin project (a directory with its pyproject.toml). The worker image
# is the algorithm base: everything here can equally be written by hand as
#
#   FROM pivfleet-worker:<version>
#   USER 0:0
#   COPY . /tmp/plugin
#   RUN pip install --no-cache-dir /tmp/plugin && rm -rf /tmp/plugin
#   USER 10001:10001
#   ENV PIVFLEET_ALGORITHM=myalgo
#
# The base sets PIP_CONSTRAINT to the project's lock, so the plugin may add packages but cannot
# change the version of any package the worker was built and tested with. The worker of this
# image long-polls pivfleet-jobs-<ALGORITHM>; see docs/containers.md.

ARG BASE_IMAGE=pivfleet-worker:latest
FROM ${BASE_IMAGE}

ARG ALGORITHM=""

LABEL org.opencontainers.image.title="pivfleet-worker-${ALGORITHM}" \
      org.opencontainers.image.description="pivfleet worker for the ${ALGORITHM} algorithm plugin"

# Installing into the root-owned /opt/venv needs root; the runtime user is restored below.
USER 0:0
# The plugin source is bind-mounted (read-write so an in-tree build can write its scratch files,
# which are discarded), so no copy of it is left in a layer.
RUN --mount=type=bind,source=.,target=/tmp/plugin,rw \
    test -n "${ALGORITHM}" || { echo "error: pass --build-arg ALGORITHM=<entry-point name>" >&2; exit 1; } \
    && pip install --no-cache-dir /tmp/plugin \
    && python -c "import sys; from importlib.metadata import entry_points; \
names = sorted(e.name for e in entry_points(group='pivfleet.algorithms')); \
sys.exit(None if sys.argv[1] in names else \
f'error: no pivfleet.algorithms entry point named {sys.argv[1]!r}; registered: {names}')" "${ALGORITHM}"
USER 10001:10001

ENV PIVFLEET_ALGORITHM=${ALGORITHM}
