"""Building a wrapped algorithm's worker image, and pushing it to a registry, through the Docker
SDK for Python (`docker`), imported only here and only when a build is asked for.

The engine's client is a parameter (`EngineClient`), so the calls can be checked against a small
fake; `connect_engine` makes the real one from the environment (DOCKER_HOST, or the local socket)
and says in one line when there is no engine. A push uses the credentials `docker login` stored.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from pivfleet.core.errors import PivfleetError

Event = dict[str, Any]
"""One decoded line of the engine's progress stream."""
TAG_CHARACTERS = re.compile(r"[^A-Za-z0-9_.-]")


class EngineError(PivfleetError):
    """No Docker engine, no SDK, or a build or push the engine refused."""


class EngineApi(Protocol):
    """The low-level calls used (docker.APIClient's), which stream progress events."""

    def build(self, *, path: str, tag: str, rm: bool, decode: bool) -> Iterable[Event]: ...

    def push(self, repository: str, *, tag: str, stream: bool, decode: bool) -> Iterable[Event]: ...


class EngineClient(Protocol):
    @property
    def api(self) -> EngineApi: ...


def connect_engine(context: Path) -> EngineClient:
    """The engine `docker` finds from the environment, or an EngineError saying there is none
    and that `context` can be built elsewhere."""
    elsewhere = f"the build context in {context} can be built with `docker build` elsewhere"
    try:  # by name: the repository's own docker/ folder would shadow the SDK for mypy
        sdk = importlib.import_module("docker")
        errors = importlib.import_module("docker.errors")
    except ImportError:
        raise EngineError(
            f"the Docker SDK for Python is not installed (pip install docker); {elsewhere}"
        ) from None
    try:
        client: EngineClient = sdk.from_env()
    except errors.DockerException as error:
        raise EngineError(f"no Docker engine found ({error}); {elsewhere}") from None
    return client


def build_image(
    client: EngineClient, context: Path, reference: str, say: Callable[[str], None]
) -> None:
    """Build `context` as `reference` (repository:tag), each line of the build said."""
    with translate_engine_errors("build", reference):
        events = client.api.build(path=str(context), tag=reference, rm=True, decode=True)
        follow(events, say, f"docker build of {reference}")


def push_image(client: EngineClient, reference: str, say: Callable[[str], None]) -> None:
    repository, _, tag = reference.rpartition(":")
    with translate_engine_errors("push", reference):
        events = client.api.push(repository, tag=tag, stream=True, decode=True)
        follow(events, say, f"docker push of {reference}")


def follow(events: Iterable[Event], say: Callable[[str], None], step: str) -> None:
    """Say each event's text; the engine reports a failed step as an event, not an exception."""
    for event in events:
        if "error" in event:
            raise EngineError(f"{step} failed: {str(event['error']).strip()}")
        text = str(event.get("stream") or event.get("status") or "").rstrip()
        if text:
            say(text)


@contextmanager
def translate_engine_errors(step: str, reference: str) -> Iterator[None]:
    """The SDK's own exceptions (docker.errors.*) as one EngineError line naming the step."""
    try:
        yield
    except Exception as error:
        if not type(error).__module__.startswith("docker."):
            raise
        raise EngineError(f"docker {step} of {reference}: {error}") from None


def image_reference(name: str, registry: str | None, tag: str) -> str:
    """`[REGISTRY/]pivfleet-worker-<name>:<tag>`, the tag made valid for Docker."""
    repository = f"pivfleet-worker-{name}"
    if registry:
        repository = f"{registry.rstrip('/')}/{repository}"
    return f"{repository}:{TAG_CHARACTERS.sub('-', tag)[:128]}"


def default_tag(program_image: str, version: str) -> str:
    """`<the program image's tag>-pivfleet<version>`: a new program or a new pivfleet is a new
    tag (a digest-pinned program gives `pivfleet<version>`)."""
    name, _, digest = program_image.partition("@")
    tag = "" if digest else name.rpartition("/")[2].partition(":")[2]
    return f"{tag}-pivfleet{version}" if tag else f"pivfleet{version}"
