"""The shell commands a documentation page shows, and what is wrong with each: a `make` target
the Makefile lacks, a `pivfleet` subcommand or flag its parser refuses, an `aws` or `docker
compose` call the docs do not mean, a script or file that is not in the repository.

A page's ```sh blocks are read as a reader would paste them: `\\` continues a line, `# …` is a
comment, a heredoc's body is data, `&&`, `;` and `|` separate commands. In usage lines
`[--flag VALUE]` is optional (checked as if given), `a|b|c` is each of a, b and c, and
capitalised words (FRAMES/, RUN…) are placeholders for the reader's own values."""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import re
import shlex
import sys
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from pivfleet.cli.main import build_parser
from pivfleet.core.topology import input_bucket, output_bucket

REPO = Path(__file__).resolve().parents[1]
SEPARATORS = {"&&", "||", ";", "|"}
ASSIGNMENT = re.compile(r"^[A-Z_][A-Z0-9_]*=")
PLACEHOLDER = re.compile(r"^[A-Z][A-Z0-9_]*(/|…)?$")
PLACEHOLDER_VALUES = {"N": "2", "PIXELS": "640"}
"""Placeholders argparse converts (an int, a tile size): a value of their kind stands in."""
HEREDOC = re.compile(r"<<-?\s*['\"]?(\w+)['\"]?")
SUBSTITUTION = re.compile(r"\$\(([^()]*)\)")
GENERATED = ("build/",)
"""Where `pivfleet wrap` writes (its default `--out`): files an earlier command on the page made."""

AWS_COMMANDS = {
    "s3": {"cp", "sync", "ls", "rm", "mb", "rb", "mv", "presign"},
    "sqs": {"list-queues", "get-queue-attributes", "receive-message", "purge-queue"},
    "ecr": {"create-repository", "get-login-password", "describe-images"},
}
AWS_OPTIONS = {
    "--endpoint-url", "--region", "--profile", "--exclude", "--include", "--recursive",
    "--delete", "--dryrun", "--repository-name", "--image-tag-mutability",
    "--image-scanning-configuration", "--queue-url",
}  # fmt: skip
"""What the docs may ask of the AWS CLI: the services pivfleet uses and their options."""
COMPOSE_COMMANDS = {"up", "down", "ps", "run", "logs", "build", "exec", "config", "stop"}
TERRAFORM_COMMANDS = {"init", "plan", "apply", "destroy", "output"}
SHELL_WORDS = {"export", "unset", "cat", "mkdir", "ls", "cd", "eval", "sed", "echo", "id", "."}
"""Shell builtins and coreutils: nothing of the project's to check."""


@dataclass(frozen=True)
class Command:
    page: str
    line: int
    words: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.page}:{self.line}: {' '.join(self.words)}"


def sh_blocks(text: str) -> Iterator[tuple[int, str]]:
    """Each ```sh block's first line number (1-based) and its text."""
    for match in re.finditer(r"^```sh\n(.*?)^```", text, re.MULTILINE | re.DOTALL):
        yield text.count("\n", 0, match.start(1)) + 1, match.group(1)


def logical_lines(first: int, block: str) -> Iterator[tuple[int, str]]:
    """Lines joined across `\\` continuations, heredoc bodies left out."""
    lines, number, ending = block.splitlines(), first, None
    pending: list[str] = []
    for offset, line in enumerate(lines):
        if ending is not None:
            ending = None if line.strip() == ending else ending
            continue
        number = number if pending else first + offset
        pending.append(line.removesuffix("\\"))
        if not line.endswith("\\"):
            joined = " ".join(pending)
            pending = []
            heredoc = HEREDOC.search(joined)
            ending = heredoc.group(1) if heredoc else None
            yield number, joined


def split_commands(line: str) -> Iterator[list[str]]:
    """The commands on one line, `$(command)` included, redirections (`> file`, `<<EOF`)
    dropped."""
    for inner in SUBSTITUTION.findall(line):
        yield from split_commands(inner)
    line = SUBSTITUTION.sub("$SUBSTITUTION", line)
    words: list[str] = []
    tokens = iter(shlex.split(line, comments=True))
    for token in tokens:
        if token in SEPARATORS:
            yield from [words] if words else []
            words = []
        elif token in {">", ">>", "<"}:
            next(tokens, None)
        elif not token.startswith(("<<", ">")):
            words.append(token)
    yield from [words] if words else []


def heredocs(text: str) -> list[tuple[str, str]]:
    """(file, body) of each `cat > FILE <<'EOF'` in the ```sh blocks: what the reader writes."""
    pattern = re.compile(r"cat > (\S+) <<-?\s*'?(\w+)'?\n(.*?)^\2$", re.MULTILINE | re.DOTALL)
    return [(m[0], m[2]) for _, block in sh_blocks(text) for m in pattern.findall(block)]


def page_commands(page: Path) -> list[Command]:
    name = str(page.relative_to(REPO))
    return [
        Command(name, number, tuple(words))
        for first, block in sh_blocks(page.read_text())
        for number, line in logical_lines(first, block)
        for words in split_commands(line)
    ]


def text_commands(text: str, page: str = "<text>") -> list[Command]:
    """The commands of a snippet as if it were a page's ```sh block (for testing the checker)."""
    lines = logical_lines(1, text)
    return [Command(page, n, tuple(words)) for n, line in lines for words in split_commands(line)]


def problems(command: Command) -> list[str]:
    """What is wrong with `command`, one line each naming the word; [] when it exists."""
    words = list(command.words)
    while words and ASSIGNMENT.match(words[0]):  # VAR=value make stack
        words.pop(0)
    if not words or words[0].startswith("$"):  # $EDITOR: the reader's own program
        return []
    program, arguments = words[0], words[1:]
    checker = CHECKERS.get(program) or venv_program
    return [f"{command}: {problem}" for problem in checker(program, arguments)]


# ---- make ----


def makefile_targets() -> set[str]:
    text = (REPO / "Makefile").read_text()
    return set(re.findall(r"^([A-Za-z][\w.-]*)\s*:(?!=)", text, re.MULTILINE))


def check_make(_: str, arguments: list[str]) -> list[str]:
    targets = [a for a in arguments if not a.startswith("-") and "=" not in a]
    known = makefile_targets()
    return [f"no target {t!r} in the Makefile" for t in targets if t not in known]


# ---- pivfleet ----


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def visible_flags(parser: argparse.ArgumentParser) -> set[str]:
    """The flags `--help` shows: a deprecated, hidden spelling is no flag for the docs."""
    return {
        flag
        for action in parser._actions
        if action.help != argparse.SUPPRESS
        for flag in action.option_strings
    }


def alternatives(arguments: list[str]) -> list[list[str]]:
    """`[--tiling auto|none|PIXELS]` as the three commands it stands for, brackets dropped."""
    bare = [a.lstrip("[").rstrip("]") for a in arguments]
    choices = [w.split("|") if "|" in w and not w.startswith("-") else [w] for w in bare]
    return [list(words) for words in itertools.product(*choices)]


def parse_error(parser: argparse.ArgumentParser, words: list[str]) -> str | None:
    """argparse's own complaint about `words`, or None when it takes them."""
    given = [PLACEHOLDER_VALUES.get(w, w) for w in words]
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        try:
            parser.parse_args(given)
        except SystemExit as stop:
            if stop.code:
                return stderr.getvalue().strip().splitlines()[-1]
    return None


def check_pivfleet(_: str, arguments: list[str]) -> list[str]:
    commands = subcommands()
    if not arguments or arguments[0] in {"-h", "--help"}:
        return []
    name, rest = arguments[0], arguments[1:]
    if name not in commands:
        return [f"pivfleet has no subcommand {name!r} (it has {', '.join(commands)})"]
    flags = visible_flags(commands[name])
    found = []
    for variant in alternatives(rest):
        unknown = [w for w in variant if w.startswith("--") and w.split("=")[0] not in flags]
        found += [f"pivfleet {name} has no flag {flag!r}" for flag in unknown]
        error = None if unknown else parse_error(commands[name], variant)
        found += [f"pivfleet {name} refuses {' '.join(variant)!r}: {error}"] if error else []
    return list(dict.fromkeys(found))


# ---- aws ----


def check_aws(_: str, arguments: list[str]) -> list[str]:
    found = [f"the AWS CLI has no option {w!r} the docs mean" for w in options(arguments)]
    service, command = [*positional(arguments), None, None][:2]
    if service not in AWS_COMMANDS:
        return [*found, f"aws {service}: not a service pivfleet uses ({', '.join(AWS_COMMANDS)})"]
    if command not in AWS_COMMANDS[service]:
        found.append(f"aws {service} has no command {command!r} the docs mean")
    buckets = {input_bucket(), output_bucket()}
    for url in (w for w in arguments if w.startswith("s3://")):
        bucket = url.removeprefix("s3://").split("/")[0]
        if bucket not in buckets and not bucket.startswith("$"):
            found.append(f"{url}: not one of pivfleet's buckets ({', '.join(sorted(buckets))})")
    return found


def options(arguments: list[str]) -> list[str]:
    return [w for w in arguments if w.startswith("--") and w.split("=")[0] not in AWS_OPTIONS]


def positional(arguments: list[str]) -> list[str | None]:
    """Words that are not options nor an option's value (every AWS option here takes one, but
    the flags `--recursive`, `--delete` and `--dryrun`)."""
    flags, skip = {"--recursive", "--delete", "--dryrun"}, False
    words: list[str | None] = []
    for word in arguments:
        if skip:
            skip = False
        elif word.startswith("--"):
            skip = word not in flags and "=" not in word
        else:
            words.append(word)
    return words


# ---- docker, terraform, files ----


def compose_services() -> set[str]:
    return set(yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"])


def check_docker(_: str, arguments: list[str]) -> list[str]:
    command, words = (arguments[0], arguments[1:]) if arguments else (None, [])
    if command == "build":
        return check_docker_build(words)
    if command == "login":  # to the reader's registry: nothing of ours to check
        return []
    if command != "compose":
        return [f"docker {command}: the docs mean `docker compose`, `build` or `login`"]
    return check_compose(words)


def check_compose(words: list[str]) -> list[str]:
    files = []
    while words[:1] == ["-f"]:  # compose files come before the command
        files.append(words[1])
        words = words[2:]
    found = [f"no compose file {f}" for f in files if not in_repository(f)]
    command = words[0] if words else None
    if command not in COMPOSE_COMMANDS:
        return [*found, f"docker compose has no command {command!r} the docs mean"]
    return found + missing_services(command, words[1:]) + in_container(command, words[1:])


def in_repository(path: str) -> bool:
    return (REPO / path).exists() or path.startswith(GENERATED)


def missing_services(command: str, words: list[str]) -> list[str]:
    """Services named by `run [--rm] SERVICE`, `logs [-f] SERVICE`, `--scale SERVICE=N`."""
    services = compose_services()
    named = [words[i + 1].split("=")[0] for i, w in enumerate(words[:-1]) if w == "--scale"]
    if command in {"run", "logs", "exec"}:
        named += [w for w in words if not w.startswith("-")][:1]
    return [f"docker-compose.yml has no service {s!r}" for s in named if s not in services]


def in_container(command: str, words: list[str]) -> list[str]:
    """What `run [--rm] SERVICE COMMAND…` (or `sh -c 'COMMANDS'`) runs in the service's
    container, checked as if typed here: the cli service's `pivfleet` is this one."""
    at = next((i for i, w in enumerate(words) if not w.startswith("-")), len(words))
    inside = words[at + 1 :]
    if command != "run" or not inside:
        return []
    commands = (
        text_commands(inside[2])
        if inside[:2] == ["sh", "-c"]
        else [Command("<container>", 1, tuple(inside))]
    )
    return [problem for command in commands for problem in problems(command)]


def check_docker_build(words: list[str]) -> list[str]:
    files = [words[i + 1] for i, w in enumerate(words[:-1]) if w == "-f"]
    return [f"no Dockerfile {f}" for f in files if not in_repository(f)]


def check_terraform(_: str, arguments: list[str]) -> list[str]:
    folder = next((a.split("=", 1)[1] for a in arguments if a.startswith("-chdir=")), ".")
    command = next((a for a in arguments if not a.startswith("-")), None)
    found = [] if (REPO / folder).is_dir() else [f"no folder {folder}"]
    if command not in TERRAFORM_COMMANDS:
        found.append(f"terraform has no command {command!r} the docs mean")
    return found


def check_files(program: str, arguments: list[str]) -> list[str]:
    """`cp SOURCE DEST`, `pytest TESTS…`: the repository's files they name exist."""
    named = [a for a in arguments if not a.startswith("-")]
    named = named[:1] if program == "cp" else named
    return [f"no file {path}" for path in named if not in_repository(path)]


def check_python(_: str, arguments: list[str]) -> list[str]:
    """`python script.py` or `python -m module`: the script or the module's file exists."""
    if arguments[:1] == ["-m"]:
        module = REPO / arguments[1].replace(".", "/")
        there = module.with_suffix(".py").is_file() or (module / "__init__.py").is_file()
        return [] if there else [f"no module {arguments[1]} in the repository"]
    return [f"no script {arguments[0]}"] if not (REPO / arguments[0]).is_file() else []


def console_scripts() -> set[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return set(project["scripts"])


def venv_program(program: str, arguments: list[str]) -> list[str]:
    """`.venv/bin/X`: a program `make run` installs (pivfleet's own, or a dependency's, as the
    venv running the tests has it); any other program is one these docs should not use."""
    name = program.removeprefix(".venv/bin/")
    if name == program:
        return [f"{program!r} is not a command these docs use"]
    if name in console_scripts():
        return CHECKERS[name](name, arguments)
    there = (Path(sys.executable).parent / name).exists()
    return [] if there else [f"the project's venv has no {name}"]


def no_check(_: str, __: list[str]) -> list[str]:
    return []


Checker = Callable[[str, list[str]], list[str]]
CHECKERS: dict[str, Checker] = {
    "make": check_make,
    "pivfleet": check_pivfleet,
    "aws": check_aws,
    "docker": check_docker,
    "terraform": check_terraform,
    "cp": check_files,
    "pytest": check_files,
    "python": check_python,
    ".venv/bin/python": check_python,
    **dict.fromkeys(SHELL_WORDS, no_check),
}
