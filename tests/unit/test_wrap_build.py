"""`pivfleet wrap --build/--push`: the Docker SDK calls, checked against a small fake engine
client (the SDK's low-level `api`: build and push, streaming progress events), and the
no-engine path for real (no engine is reachable at the socket these tests name)."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pivfleet.cli.main import main
from pivfleet.cli.wrap_command import WrappedImage, build_wrapped_image
from pivfleet.cloud.image_builder import (
    EngineError,
    build_image,
    default_tag,
    image_reference,
)

EXAMPLE = Path(__file__).parents[2] / "examples" / "c_algorithm" / "algorithm.cwl.yml"
NO_ENGINE = "unix:///nonexistent/pivfleet-test/docker.sock"


class APIError(Exception):
    """Stands for docker.errors.APIError: the SDK's exceptions live in `docker.errors`."""


APIError.__module__ = "docker.errors"


@dataclass
class FakeApi:
    """Records each call; answers with the events the real engine streams."""

    build_events: list[dict[str, Any]] = field(
        default_factory=lambda: [
            {"stream": "Step 1/20 : FROM ghcr.io/astral-sh/uv:0.8.17 AS uv\n"},
            {"stream": "\n"},
            {"stream": "Successfully tagged x\n"},
        ]
    )
    push_events: list[dict[str, Any]] = field(
        default_factory=lambda: [{"status": "Pushing"}, {"status": "Pushed", "id": "abc"}]
    )
    fail_with: Exception | None = None
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def build(self, *, path: str, tag: str, rm: bool, decode: bool) -> Iterable[dict[str, Any]]:
        self.calls.append(("build", {"path": path, "tag": tag, "rm": rm, "decode": decode}))
        return self.stream(self.build_events)

    def push(
        self, repository: str, *, tag: str, stream: bool, decode: bool
    ) -> Iterable[dict[str, Any]]:
        self.calls.append(("push", {"repository": repository, "tag": tag, "stream": stream}))
        return self.stream(self.push_events)

    def stream(self, events: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        yield from events
        if self.fail_with is not None:
            raise self.fail_with


@dataclass
class FakeClient:
    api: FakeApi = field(default_factory=FakeApi)


def test_build_then_push_to_the_registry(tmp_path: Path) -> None:
    client, said = FakeClient(), []
    image = WrappedImage("blockmatch", "0.1-pivfleet0.1.0", "123.dkr.ecr.eu-west-1.amazonaws.com/")
    reference = build_wrapped_image(client, tmp_path, image, said.append)
    repository = "123.dkr.ecr.eu-west-1.amazonaws.com/pivfleet-worker-blockmatch"
    assert reference == f"{repository}:0.1-pivfleet0.1.0"
    assert client.api.calls == [
        ("build", {"path": str(tmp_path), "tag": reference, "rm": True, "decode": True}),
        ("push", {"repository": repository, "tag": "0.1-pivfleet0.1.0", "stream": True}),
    ]
    assert said[0] == "Step 1/20 : FROM ghcr.io/astral-sh/uv:0.8.17 AS uv"
    assert "" not in said and said[-1] == f"pushed {reference}"


def test_build_alone_pushes_nothing(tmp_path: Path) -> None:
    client, said = FakeClient(), []
    build_wrapped_image(client, tmp_path, WrappedImage("blockmatch", "t1", None), said.append)
    assert [name for name, _ in client.api.calls] == ["build"]
    assert said[-1] == "built pivfleet-worker-blockmatch:t1"


def test_a_failed_step_in_the_stream_is_one_error_naming_it(tmp_path: Path) -> None:
    client = FakeClient(FakeApi(build_events=[
        {"stream": "Step 9/20 : RUN uv python install 3.11.13\n"},
        {"error": "The command returned a non-zero code: 1\n", "errorDetail": {"code": 1}},
        {"stream": "never said\n"},
    ]))  # fmt: skip
    said: list[str] = []
    with pytest.raises(EngineError, match="docker build of pivfleet-worker-b:t failed: The comm"):
        build_image(client, tmp_path, "pivfleet-worker-b:t", said.append)
    assert said == ["Step 9/20 : RUN uv python install 3.11.13"]


def test_a_push_refused_by_the_registry_fails_the_command(tmp_path: Path) -> None:
    client = FakeClient(FakeApi(push_events=[{"error": "denied: not authorized"}]))
    image = WrappedImage("b", "t", "registry.example:5000")
    with pytest.raises(EngineError, match=re.escape("docker push of registry.example:5000/")):
        build_wrapped_image(client, tmp_path, image, lambda _: None)


def test_the_sdks_own_exceptions_become_one_line(tmp_path: Path) -> None:
    client = FakeClient(FakeApi(fail_with=APIError("500 Server Error: no space left on device")))
    with pytest.raises(EngineError, match="docker build of x:t: 500 Server Error: no space"):
        build_image(client, tmp_path, "x:t", lambda _: None)
    client = FakeClient(FakeApi(fail_with=KeyError("ours")))
    with pytest.raises(KeyError):
        build_image(client, tmp_path, "x:t", lambda _: None)


@pytest.mark.parametrize(
    ("program", "tag"),
    [
        ("pivfleet-blockmatch:0.1", "0.1-pivfleet0.1.0"),
        ("localhost:5000/lab/piv:2.3", "2.3-pivfleet0.1.0"),
        ("lab/piv@sha256:" + "0" * 64, "pivfleet0.1.0"),
    ],
)
def test_the_default_tag_follows_the_program_and_pivfleet(program: str, tag: str) -> None:
    assert default_tag(program, "0.1.0") == tag


def test_a_reference_is_made_valid_for_docker() -> None:
    assert image_reference("b", None, "1.0+local") == "pivfleet-worker-b:1.0-local"
    assert image_reference("b", "r.io/lab/", "v") == "r.io/lab/pivfleet-worker-b:v"


def test_without_an_engine_wrap_build_says_so_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """For real: the SDK (when installed) finds no engine at the socket named here; without the
    SDK the same command says that instead. Either way the context is written and named."""
    monkeypatch.setenv("DOCKER_HOST", NO_ENGINE)
    out = tmp_path / "ctx"
    assert main(["wrap", "--build", str(EXAMPLE), "--out", str(out), "--push", "r.io"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("pivfleet: error: ")
    if importlib.util.find_spec("docker.errors") is not None:
        assert "no Docker engine found (Error while fetching server API version" in error
    else:
        assert "the Docker SDK for Python is not installed" in error
    assert f"the build context in {out} can be built with `docker build` elsewhere" in error
    assert (out / "Dockerfile").is_file()
