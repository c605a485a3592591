"""Every shell command the README and the docs show exists as written: `make` targets, `pivfleet`
subcommands and every flag they use (argparse takes the words), the `aws` and `docker compose`
calls the docs mean, the scripts and files they name. The cheap ones run: `pivfleet schema`,
`algorithms`, `samples`, each subcommand's `--help`, and `make -n` of each target."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pivfleet.cli.main import main
from pivfleet.core.spec import RunSpec
from scripts.stack import USAGE
from tests.doc_commands import REPO, Command, console_scripts, heredocs, page_commands, problems
from tests.doc_commands import text_commands as snippet

PAGES = [
    "README.md", "docs/cloud.md", "docs/containers.md", "docs/run-json.md", "docs/wrap.md",
    "terraform/README.md", "examples/python_plugin/README.md", "examples/two_step/README.md",
]  # fmt: skip
CHEAP = {"schema", "algorithms", "samples"}
"""Subcommands that run in a second with no cloud: run as the docs write them."""


def documented() -> list[Command]:
    return [command for page in PAGES for command in page_commands(REPO / page)]


def pivfleet_words(command: Command) -> list[str] | None:
    """The words after `pivfleet` (or `.venv/bin/pivfleet`); None for other programs."""
    program, *rest = command.words
    return rest if program in {"pivfleet", ".venv/bin/pivfleet"} else None


@pytest.mark.parametrize("page", PAGES)
def test_every_command_on_the_page_exists(page: str) -> None:
    commands = page_commands(REPO / page)
    assert commands, f"{page} has no ```sh block: the test reads nothing"
    found = [problem for command in commands for problem in problems(command)]
    assert not found, "\n".join(found)


def test_what_make_stack_prints_to_type_exists() -> None:
    lines = USAGE.format(endpoint="http://127.0.0.1:4566").splitlines()[1:-1]
    commands = snippet("\n".join(line.strip() for line in lines))
    assert len(commands) == 5
    found = [problem for command in commands for problem in problems(command)]
    assert not found, "\n".join(found)


def test_the_run_json_the_aws_cli_flow_writes_is_a_run_spec() -> None:
    """docs/cloud.md's `cat > run.json <<'EOF'`: the run it uploads is one pivfleet takes."""
    ((name, body),) = heredocs((REPO / "docs/cloud.md").read_text())
    assert name == "run.json"
    spec = RunSpec.model_validate_json(body)
    assert spec.run == "exp42" and spec.frames == 8


def test_the_quick_start_and_the_cloud_section_are_read() -> None:
    """The parser sees the commands a reader types (a broken parse would check nothing)."""
    readme = {" ".join(c.words) for c in page_commands(REPO / "README.md")}
    assert {"make run", "make test", "make stack"} <= readme
    assert ".venv/bin/pivfleet submit demo/input --run exp42 --replace" in readme
    run_usage = next(w for w in readme if w.startswith(".venv/bin/pivfleet run FRAMES/"))
    assert "--pairing suffix|sequential|cascade" in run_usage  # joined across its `\`
    cloud = {" ".join(c.words) for c in page_commands(REPO / "docs/cloud.md")}
    assert "aws s3 cp run.json s3://pivfleet-input/exp42/run.json" in cloud
    assert "cat" in cloud  # the heredoc's command, not its JSON body
    assert not any(line.startswith("{") for line in cloud)


@pytest.mark.parametrize(
    ("text", "reported"),
    [
        ("make deploy", "no target 'deploy' in the Makefile"),
        ("PIVFLEET_STACK_PORT=4567 make stak", "no target 'stak'"),
        (".venv/bin/pivfleet statuz exp42", "pivfleet has no subcommand 'statuz'"),
        (".venv/bin/pivfleet status exp42 --follow", "pivfleet status has no flag '--follow'"),
        ("pivfleet run F/ --out R/ --rep", "no flag '--rep'"),  # argparse would take it
        ("pivfleet submit F/ --run r --expected-workers 4", "no flag '--expected-workers'"),
        ("pivfleet run F/ --out R/ \\\n    --widows 64", "pivfleet run has no flag '--widows'"),
        ("pivfleet run F/ --out R/ [--pairing suffix|zigzag]", "invalid choice: 'zigzag'"),
        ("pivfleet run F/ --out R/ --workers many", "invalid int value: 'many'"),
        (".venv/bin/pivfleet results exp42", "the following arguments are required: --out"),
        ("aws s3 copy run.json s3://pivfleet-input/e/run.json", "aws s3 has no command 'copy'"),
        ("aws s3 cp run.json s3://pivfleet-inputs/e/run.json", "not one of pivfleet's buckets"),
        ("aws s3 sync F/ s3://pivfleet-input/e/ --exlude x", "no option '--exlude'"),
        ("aws lambda invoke f", "aws lambda: not a service pivfleet uses"),
        ("docker compose run --rm workers pivfleet dlq r", "has no service 'workers'"),
        ("docker compose run --rm cli pivfleet statuz r", "no subcommand 'statuz'"),
        ("docker compose run --rm cli sh -c 'ls && pivfleet run F/ --rep'", "no flag '--rep'"),
        ("docker compose start", "docker compose has no command 'start'"),
        ("docker build -f docker/gpu.Dockerfile .", "no Dockerfile docker/gpu.Dockerfile"),
        (".venv/bin/python bench/costs.py", "no script bench/costs.py"),
        ("python -m scripts.stak", "no module scripts.stak"),
        ("terraform -chdir=terraform deploy", "terraform has no command 'deploy'"),
        ("cp .env.sample .env", "no file .env.sample"),
        ("pivfleet-cli run F/", "'pivfleet-cli' is not a command these docs use"),
        (".venv/bin/pivfleetd run F/", "the project's venv has no pivfleetd"),
        ("ls && make deploy # a comment", "no target 'deploy'"),
        ("echo $(make deploy)", "no target 'deploy'"),
    ],
)
def test_the_check_reports_what_does_not_exist(text: str, reported: str) -> None:
    (command,) = [c for c in snippet(text) if problems(c)]
    (problem,) = problems(command)
    assert reported in problem


def test_the_check_passes_what_exists() -> None:
    """Placeholders, optional groups, alternatives and a heredoc pass when the words exist."""
    text = (
        ".venv/bin/pivfleet run FRAMES/ --out RESULTS/ [--workers N] [--tiling auto|none|PIXELS]\n"
        "cat > run.json <<'EOF'\n--not-a-flag\nEOF\n"
        ".venv/bin/pivfleet reconcile [RUN…] [--dry-run]\n"
        "docker compose -f docker-compose.yml up -d --scale worker=4\n"
    )
    assert [p for c in snippet(text) for p in problems(c)] == []


def test_pivfleet_as_the_docs_call_it_is_the_installed_command() -> None:
    """`.venv/bin/pivfleet` is the console script `make run`'s install puts there."""
    assert console_scripts() == {"pivfleet"}
    result = subprocess.run(
        [sys.executable, "-m", "pivfleet.cli", "--help"],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0 and result.stdout.startswith("usage: pivfleet")


def cheap_commands() -> list[Command]:
    found = [(c, pivfleet_words(c)) for c in documented()]
    return [c for c, words in found if words and words[0] in CHEAP]


@pytest.mark.parametrize("command", cheap_commands(), ids=str)
def test_the_cheap_commands_run_as_written(
    command: Command, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    words = pivfleet_words(command)
    assert words is not None and main(words) == 0
    if words[0] == "samples":
        assert len(list((tmp_path / words[1]).glob("*"))) >= 8  # four pairs at least


def used_subcommands() -> list[str]:
    used = {words[0] for c in documented() if (words := pivfleet_words(c))}
    return sorted(used)


def test_the_cheap_commands_cover_schema_and_samples() -> None:
    assert {c.words[1] for c in cheap_commands()} >= {"schema", "samples", "algorithms"}


@pytest.mark.parametrize("subcommand", used_subcommands())
def test_each_documented_subcommand_answers_help(
    subcommand: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stop:
        main([subcommand, "--help"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: pivfleet {subcommand}")


def make_commands() -> list[Command]:
    return [c for c in documented() if "make" in c.words[:3]]


@pytest.mark.skipif(shutil.which("make") is None, reason="no make on this machine")
@pytest.mark.parametrize("command", make_commands(), ids=str)
def test_make_knows_how_to_make_each_documented_target(command: Command) -> None:
    """`make -n`: the target and what it runs, printed, nothing built."""
    at = command.words.index("make")
    variables = dict(w.split("=", 1) for w in command.words[:at])
    result = subprocess.run(
        ["make", "-n", "-C", str(REPO), *command.words[at + 1 :]],
        env={**os.environ, **variables}, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
