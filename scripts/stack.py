"""`make stack`: the compose topology as plain processes, for machines without Docker.

LocalStack in host mode, `pivfleet bootstrap`, the dispatcher poller, two workers and the
collector. Prints the environment to use `pivfleet submit/status/results` from another shell.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping

from scripts.localstack_host import (
    LocalStackError,
    LocalStackProcess,
    PortBusyError,
    default_python,
    start_localstack,
)

ROLES = (["dispatcher"], ["worker"], ["worker"], ["collector"])
LOCALSTACK_PORT = 4566
PORT_VAR = "PIVFLEET_STACK_PORT"
USAGE = """stack up. In another shell:
  export AWS_ENDPOINT_URL={endpoint} AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
  export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
  .venv/bin/pivfleet samples demo/input
  .venv/bin/pivfleet submit demo/input --run demo
  .venv/bin/pivfleet status demo --watch
Ctrl-C stops everything."""


def stack_env(endpoint: str) -> dict[str, str]:
    defaults = {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": "us-east-1",
    }
    return {
        **os.environ,
        **defaults,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
    }


class StackError(Exception):
    """The stack cannot start; the message is one line that says what to change."""


def stack_port(env: Mapping[str, str]) -> int:
    text = env.get(PORT_VAR) or str(LOCALSTACK_PORT)
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise StackError(f"{PORT_VAR}={text!r} is not a port: give a number such as 4567")
    return int(text)


def start(port: int) -> LocalStackProcess:
    """LocalStack on `port`; a taken port is named with the variable that moves the stack."""
    try:
        return start_localstack(default_python(), port=port)
    except PortBusyError as error:
        raise StackError(f"{error}; free it or run `{PORT_VAR}={port + 1} make stack`") from None


def serve(localstack: LocalStackProcess) -> None:
    """Bootstrap, start the roles, and keep them until Ctrl-C or SIGTERM."""
    env = stack_env(localstack.endpoint)
    subprocess.run([sys.executable, "-m", "pivfleet.cli", "bootstrap"], env=env, check=True)
    processes = [subprocess.Popen([sys.executable, "-m", *role], env=env) for role in ROLES]
    print(USAGE.format(endpoint=localstack.endpoint), flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        process.wait(timeout=30)


def main() -> int:
    try:
        with start(stack_port(os.environ)) as localstack:
            serve(localstack)
    except (StackError, LocalStackError) as error:
        print(f"make stack: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C while LocalStack starts: it is stopped already
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
