"""The compose override `pivfleet wrap` writes beside its Dockerfile: one worker service for the
wrapped algorithm, and the spec handed to the bootstrap (which creates the algorithm's queues)
and to the dispatcher (which reads how its pairs may be cut).

The worker's environment is docker-compose.yml's worker's (tests/unit/test_wrap_context.py
holds them equal) with PIVFLEET_ALGORITHM set; its limits come from the spec's
ResourceRequirement. Relative paths in an override are resolved against the first compose
file's folder, so `context` is the build context as seen from there.
"""

from __future__ import annotations

from typing import Any

import yaml

from pivfleet.algorithms.wrapped_dockerfile import DRAIN_SECONDS, SPECS_FOLDER
from pivfleet.core.algorithm_spec import AlgorithmSpec

STOP_GRACE_SECONDS = 120
"""Longer than the drain; the longest stop timeout Fargate allows."""
AWS_ENVIRONMENT = {
    "AWS_ENDPOINT_URL": "http://localstack:4566",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "PIVFLEET_NAME_PREFIX": "${PIVFLEET_NAME_PREFIX:-pivfleet}",
    "PIVFLEET_LOG_LEVEL": "${PIVFLEET_LOG_LEVEL:-INFO}",
}
"""docker-compose.yml's x-aws-environment: LocalStack's endpoint and test credentials only."""
AFTER_BOOTSTRAP = {
    "localstack": {"condition": "service_healthy"},
    "bootstrap": {"condition": "service_completed_successfully"},
}
HEADER = """\
# Written by `pivfleet wrap {source}`:
# a worker service for the wrapped executable {name}, built from this folder, and its spec
# handed to the bootstrap (its queues) and the dispatcher. From the folder of docker-compose.yml:
#
#   docker compose -f docker-compose.yml -f {context}/compose.override.yml up -d --build
#
"""


def worker_service(spec: AlgorithmSpec, context: str) -> dict[str, Any]:
    """The algorithm's worker: docker-compose.yml's worker with PIVFLEET_ALGORITHM set, built
    from `context`, with the spec's resources."""
    return {
        "image": f"pivfleet-worker-{spec.name}",
        "build": {"context": context},
        "environment": {
            **AWS_ENVIRONMENT,
            "PIVFLEET_ALGORITHM": spec.name,
            "PIVFLEET_WORKER_PROCESSES": "${PIVFLEET_WORKER_PROCESSES:-1}",
            "PIVFLEET_DRAIN_SECONDS": f"${{PIVFLEET_DRAIN_SECONDS:-{DRAIN_SECONDS}}}",
        },
        "stop_signal": "SIGTERM",
        "stop_grace_period": f"{STOP_GRACE_SECONDS}s",
        "depends_on": AFTER_BOOTSTRAP,
        "restart": "on-failure:5",
        "deploy": {"resources": service_resources(spec)},
    }


def service_resources(spec: AlgorithmSpec) -> dict[str, Any]:
    """The spec's cores and memory as limits; its GPUs (cwltool:CUDARequirement) reserved
    through the NVIDIA runtime, so the container sees them."""
    wanted = spec.requirements.resources
    found: dict[str, Any] = {
        "limits": {"cpus": f"{wanted.cores_min:g}", "memory": f"{wanted.ram_min}m"}
    }
    if spec.hints.cuda is not None:
        gpus = {"driver": "nvidia", "count": spec.hints.cuda.cuda_device_count_min}
        found["reservations"] = {"devices": [gpus | {"capabilities": ["gpu"]}]}
    return found


def spec_reader(spec_path: str, spec_file: str) -> dict[str, Any]:
    """What the bootstrap and the dispatcher add to read the spec: the file mounted read-only
    into PIVFLEET_ALGORITHM_SPECS (one file per algorithm, so several overrides merge). A
    missing file stops compose: the short syntax would mount an empty folder in its place."""
    mount = {
        "type": "bind",
        "source": spec_path,
        "target": f"{SPECS_FOLDER}/{spec_file}",
        "read_only": True,
        "bind": {"create_host_path": False},
    }
    return {"environment": {"PIVFLEET_ALGORITHM_SPECS": SPECS_FOLDER}, "volumes": [mount]}


def compose_fragment(spec: AlgorithmSpec, context: str, spec_file: str) -> dict[str, Any]:
    mounted = f"{context}/specs/{spec_file}"
    return {
        "services": {
            "bootstrap": spec_reader(mounted, spec_file),
            "dispatcher": spec_reader(mounted, spec_file),
            f"worker-{spec.name}": worker_service(spec, context),
        }
    }


def render_compose(spec: AlgorithmSpec, context: str, spec_file: str, source: str) -> str:
    document = compose_fragment(spec, context, spec_file)
    body = str(yaml.safe_dump(document, sort_keys=False, default_flow_style=False, width=100))
    return HEADER.format(source=source, name=spec.name, context=context) + body
