"""Integration tests run against a real LocalStack (S3, SQS) started once per session, no Docker.

The interpreter of LocalStack's own venv comes from $PIVFLEET_LOCALSTACK_PYTHON (the Makefile sets
it) or ``.localstack-venv/bin/python`` at the repo root. A missing LocalStack is an error, never a
skip: a green run must mean the AWS transports were really exercised.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.localstack_host import (
    DEFAULT_VENV_PYTHON,
    PYTHON_ENV_VAR,
    LocalStackProcess,
    start_localstack,
)
from tests.integration.helpers import Roles

INTEGRATION_DIR = Path(__file__).resolve().parent
REPO_ROOT = INTEGRATION_DIR.parents[1]
REGION = "us-east-1"
# A developer's real AWS settings must not win over the LocalStack ones.
LEAKY_AWS_VARS = ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_SQS")


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker here too, so this folder runs with any (or no) pytest config file."""
    config.addinivalue_line("markers", "localstack: needs the LocalStack endpoint of the session")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Everything under tests/integration needs LocalStack, so `-m "not localstack"` skips it."""
    for item in items:
        if INTEGRATION_DIR in item.path.resolve().parents:
            item.add_marker(pytest.mark.localstack)


def localstack_python() -> str:
    """The LocalStack venv interpreter, or a failure that says how to create it."""
    configured = os.environ.get(PYTHON_ENV_VAR)
    candidate = Path(configured) if configured else REPO_ROOT / DEFAULT_VENV_PYTHON
    if not candidate.is_file():
        source = f"${PYTHON_ENV_VAR}={configured}" if configured else str(candidate)
        pytest.fail(
            f"LocalStack interpreter not found ({source}). Run `make localstack` to create "
            f"{DEFAULT_VENV_PYTHON.parent.parent}, or point {PYTHON_ENV_VAR} at a Python that has "
            "localstack-core[runtime]==4.13.1 installed.",
            pytrace=False,
        )
    return str(candidate)


@pytest.fixture(scope="session")
def localstack() -> Iterator[LocalStackProcess]:
    """The session's one LocalStack process."""
    with start_localstack(localstack_python()) as started:
        yield started


@pytest.fixture(scope="session")
def localstack_endpoint(localstack: LocalStackProcess) -> Iterator[str]:
    """Point boto3 (via AWS_* env) at the session's LocalStack."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_ENDPOINT_URL", localstack.endpoint)
        mp.setenv("AWS_ACCESS_KEY_ID", "test")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "test")
        mp.setenv("AWS_DEFAULT_REGION", REGION)
        mp.setenv("AWS_REGION", REGION)
        for name in LEAKY_AWS_VARS:
            mp.delenv(name, raising=False)
        yield localstack.endpoint


@pytest.fixture
def aws_prefix() -> str:
    """A unique, bucket-name-safe prefix per test so tests sharing the session never collide."""
    return f"t{uuid.uuid4().hex[:8]}"


@pytest.fixture
def roles(tmp_path: Path, aws_prefix: str) -> Iterator[Roles]:
    """The role processes a test starts; all are killed at the end, and their logs printed
    (pytest shows them when the test failed)."""
    started = Roles(tmp_path, aws_prefix)
    try:
        yield started
    finally:
        started.stop_all()
        print(started.logs())
