"""`pivfleet wrap SPEC`: the build context it writes for the C example. The Dockerfile's stages
are read with test_dockerfiles' reader (hadolint runs on it there), the compose override is
validated with test_compose_file's Compose-spec check, and examples/compose.override.yml is
held to what wrap writes."""

from __future__ import annotations

import io
import re
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from pivfleet.algorithms.build_context import Checkout, write_build_context
from pivfleet.algorithms.compose_service import compose_fragment
from pivfleet.algorithms.wrapped_dockerfile import RUNTIME_PYTHON, SPECS_FOLDER
from pivfleet.cli.main import main
from pivfleet.core.algorithm_spec import read_spec
from pivfleet.core.errors import SettingsError
from tests.unit.test_compose_file import environment, load, schema_errors
from tests.unit.test_dockerfiles import exec_form, parse

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "c_algorithm" / "algorithm.cwl.yml"
OVERRIDE = REPO / "examples" / "compose.override.yml"
EXAMPLE_CONTEXT = "build/wrap/blockmatch"
"""Where `pivfleet wrap examples/c_algorithm/algorithm.cwl.yml` writes, from the repository."""


def wrap(tmp_path: Path, spec: Path = EXAMPLE, name: str = "ctx") -> Path:
    out = tmp_path / name
    write_build_context(spec, out, "wrapped/ctx", Checkout(REPO))
    return out


def with_image(tmp_path: Path, image: str | None) -> Path:
    document = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    if image is None:
        del document["requirements"]["DockerRequirement"]
    else:
        document["requirements"]["DockerRequirement"]["dockerPull"] = image
    path = tmp_path / "other.cwl.yml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def test_the_context_holds_the_spec_the_lock_and_pivfleets_source(tmp_path: Path) -> None:
    out = wrap(tmp_path)
    assert (out / "specs" / "blockmatch.cwl.yml").read_bytes() == EXAMPLE.read_bytes()
    for name in ("pyproject.toml", "constraints.txt"):
        assert (out / "runtime" / name).read_bytes() == (REPO / name).read_bytes()
    with tarfile.open(out / "runtime" / "pivfleet-0.1.0.tar.gz") as archive:
        names = set(archive.getnames())
        packed = archive.extractfile("pivfleet-0.1.0/pivfleet/cli/wrap_command.py")
        assert packed is not None
        assert packed.read() == (REPO / "pivfleet/cli/wrap_command.py").read_bytes()
    for module in ("worker/__main__.py", "collector/__main__.py", "pivfleet/cli/__main__.py"):
        assert f"pivfleet-0.1.0/{module}" in names
    assert "pivfleet-0.1.0/PKG-INFO" in names and "pivfleet-0.1.0/README.md" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_the_source_archive_is_the_same_bytes_for_the_same_checkout(tmp_path: Path) -> None:
    first = (wrap(tmp_path, name="a") / "runtime" / "pivfleet-0.1.0.tar.gz").read_bytes()
    second = (wrap(tmp_path, name="b") / "runtime" / "pivfleet-0.1.0.tar.gz").read_bytes()
    assert first == second
    with tarfile.open(fileobj=io.BytesIO(first)) as archive:
        assert {m.mtime for m in archive.getmembers()} == {0}


def test_the_final_stage_is_the_programs_image_with_the_runtime(tmp_path: Path) -> None:
    dockerfile = parse(wrap(tmp_path) / "Dockerfile")
    final = dockerfile.final
    assert final.image == "pivfleet-blockmatch:0.1" and final.name is None
    assert dockerfile.stage("builder").image == "debian:12.9-slim"
    copies = [c.args for c in final.all("COPY")]
    assert "--from=builder /opt/pivfleet /opt/pivfleet" in copies
    assert f"specs/ {SPECS_FOLDER}/" in copies
    env = " ".join(e.args for e in final.all("ENV"))
    assert f"PIVFLEET_ALGORITHM_SPECS={SPECS_FOLDER}" in env
    assert "PIVFLEET_ALGORITHM=blockmatch" in env
    assert "PATH" not in env and "PYTHON" not in env.replace("PIVFLEET", ""), (
        "the program inherits the environment: the runtime must not change its PATH or Python"
    )
    text = (wrap(tmp_path, name="again") / "Dockerfile").read_text(encoding="utf-8")
    assert not re.search(r"AWS_|SECRET|TOKEN|PASSWORD|CREDENTIAL", text, re.IGNORECASE), (
        "no secrets in an image: the worker gets its role's credentials at run time"
    )
    assert exec_form(final.all("ENTRYPOINT")[-1]) == [RUNTIME_PYTHON, "-I", "-u", "-m", "worker"]
    assert exec_form(final.all("CMD")[-1]) == []
    assert final.all("USER")[-1].args.split(":")[0] not in {"root", "0"}
    labels = " ".join(label.args for label in final.all("LABEL"))
    assert 'org.opencontainers.image.title="pivfleet-worker-blockmatch"' in labels


def test_the_build_runs_the_spec_once_in_the_image(tmp_path: Path) -> None:
    """A broken image (old glibc, a command not on its PATH) fails the build, not the fleet."""
    final = parse(wrap(tmp_path) / "Dockerfile").final
    checks = [exec_form(r) for r in final.all("RUN")]
    spec = f"{SPECS_FOLDER}/blockmatch.cwl.yml"
    assert [RUNTIME_PYTHON, "-I", "-m", "pivfleet.cli", "wrap", "--check", spec] in checks
    user_line = final.all("USER")[-1].line
    assert all(r.line > user_line for r in final.all("RUN")), "checked as the worker's user"


def test_the_builder_installs_the_lock_before_pivfleet(tmp_path: Path) -> None:
    builder = parse(wrap(tmp_path) / "Dockerfile").stage("builder")
    runs = [r.args for r in builder.all("RUN")]
    assert "uv python install 3.11" in runs[0] and "-c lock/constraints.txt" in runs[0]
    assert '--python-platform "$(uname -m)-manylinux_2_28"' in runs[0], "glibc 2.28 suffices"
    assert "--no-deps pivfleet-0.1.0.tar.gz" in runs[1] and "verify" in runs[1]
    copies = [c.args for c in builder.all("COPY")]
    assert copies.index("runtime/pivfleet-0.1.0.tar.gz ./") == len(copies) - 1


def test_a_gpu_program_is_only_loaded_at_build_time_and_gets_its_gpu(tmp_path: Path) -> None:
    document = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    document["hints"]["cwltool:CUDARequirement"] = {
        "cudaVersionMin": "12.0", "cudaComputeCapability": "8.0"
    }  # fmt: skip
    spec = tmp_path / "gpu.cwl.yml"
    spec.write_text(yaml.safe_dump(document), encoding="utf-8")
    out = wrap(tmp_path, spec)
    final = parse(out / "Dockerfile").final
    assert [exec_form(r)[-1] for r in final.all("RUN")] == ["algorithms"]
    override = load(out / "compose.override.yml")
    assert schema_errors(override) == []
    resources = override["services"]["worker-blockmatch"]["deploy"]["resources"]
    assert resources["reservations"] == {
        "devices": [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]
    }


@pytest.mark.parametrize(
    ("image", "named"),
    [
        (None, "requirements.DockerRequirement: missing"),
        ("lab/piv", "is not pinned"),
        ("lab/piv:latest", "is not pinned"),
        ("localhost:5000/piv", "is not pinned"),
    ],
)
def test_an_unpinned_or_missing_program_image_is_refused(
    tmp_path: Path, image: str | None, named: str
) -> None:
    with pytest.raises(SettingsError, match=named) as error:
        wrap(tmp_path, with_image(tmp_path, image))
    assert "dockerPull" in str(error.value)


def test_a_digest_or_a_registry_with_a_port_is_pinned(tmp_path: Path) -> None:
    for image in ("localhost:5000/piv:2.1", "lab/piv@sha256:" + "0" * 64):
        out = wrap(tmp_path, with_image(tmp_path, image), name=image.split("/")[-1][:8])
        assert parse(out / "Dockerfile").final.image == image


def test_a_folder_wrap_did_not_write_is_never_overwritten(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(SettingsError, match="not empty and not a folder pivfleet wrap wrote"):
        write_build_context(EXAMPLE, out, "mine", Checkout(REPO))
    again = wrap(tmp_path)
    (again / "specs" / "stale.cwl.yml").write_text("old")
    wrap(tmp_path)
    assert [p.name for p in (again / "specs").iterdir()] == ["blockmatch.cwl.yml"]


# --------------------------------------------------------------------------------------------
# The compose override
# --------------------------------------------------------------------------------------------
def test_the_override_is_valid_compose_with_the_workers_environment(tmp_path: Path) -> None:
    override = load(wrap(tmp_path) / "compose.override.yml")
    assert schema_errors(override) == []
    compose = load(REPO / "docker-compose.yml")
    worker, base = override["services"]["worker-blockmatch"], compose["services"]["worker"]
    expected = environment(base) | {"PIVFLEET_ALGORITHM": "blockmatch"}
    assert environment(worker) == expected
    for key in ("stop_signal", "stop_grace_period", "depends_on", "restart"):
        assert worker[key] == base[key], key
    assert worker["build"] == {"context": "wrapped/ctx"}
    assert worker["deploy"]["resources"]["limits"] == {"cpus": "1", "memory": "512m"}
    for reader in ("bootstrap", "dispatcher"):
        service = override["services"][reader]
        assert environment(service) == {"PIVFLEET_ALGORITHM_SPECS": SPECS_FOLDER}
        assert service["volumes"] == [
            {
                "type": "bind",
                "source": "wrapped/ctx/specs/blockmatch.cwl.yml",
                "target": f"{SPECS_FOLDER}/blockmatch.cwl.yml",
                "read_only": True,
                "bind": {"create_host_path": False},
            }
        ]


def test_the_example_override_has_what_wrap_writes_for_the_c_example() -> None:
    """examples/compose.override.yml adds the wrapped C example as `pivfleet wrap
    examples/c_algorithm/algorithm.cwl.yml` (run from the repository) writes it."""
    written = compose_fragment(read_spec(EXAMPLE), EXAMPLE_CONTEXT, "blockmatch.cwl.yml")
    example = load(OVERRIDE)["services"]
    assert example["worker-blockmatch"] == written["services"]["worker-blockmatch"]
    for name in ("bootstrap", "dispatcher"):
        wanted: dict[str, Any] = written["services"][name]
        assert environment(example[name]).items() >= environment(wanted).items()
        assert all(mount in example[name]["volumes"] for mount in wanted["volumes"])


def test_pivfleet_wrap_writes_the_context_and_names_it_from_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    here, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    here.mkdir()
    monkeypatch.chdir(here)
    assert main(["wrap", str(EXAMPLE)]) == 0
    assert "wrote build/wrap/blockmatch" in capsys.readouterr().out
    override = load(here / EXAMPLE_CONTEXT / "compose.override.yml")
    assert override["services"]["worker-blockmatch"]["build"]["context"] == EXAMPLE_CONTEXT
    assert main(["wrap", str(EXAMPLE), "--out", str(elsewhere)]) == 0
    override = load(elsewhere / "compose.override.yml")
    context = override["services"]["worker-blockmatch"]["build"]["context"]
    assert context == str(elsewhere.resolve())


def test_a_missing_spec_a_file_as_out_and_check_with_build_flags_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["wrap", str(tmp_path / "nothing.cwl.yml")]) == 2
    assert "nothing.cwl.yml: no such file" in capsys.readouterr().err
    (tmp_path / "file").write_text("")
    assert main(["wrap", str(EXAMPLE), "--out", str(tmp_path / "file")]) == 2
    assert "is a file: name a folder" in capsys.readouterr().err
    assert main(["wrap", "--check", str(EXAMPLE), "--push", "r.io"]) == 2
    assert "--check runs the spec here and writes nothing" in capsys.readouterr().err
    assert main(["wrap", str(EXAMPLE), "--param", "search=4"]) == 2
    assert "--param sets a parameter for --check" in capsys.readouterr().err
