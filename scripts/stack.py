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

from scripts.localstack_host import default_python, start_localstack

ROLES = (["dispatcher"], ["worker"], ["worker"], ["collector"])
LOCALSTACK_PORT = 4566
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


def main() -> int:
    port = int(os.environ.get("PIVFLEET_STACK_PORT", LOCALSTACK_PORT))
    with start_localstack(default_python(), port=port) as localstack:
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
