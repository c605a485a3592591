"""Start and stop LocalStack as a plain host process (no Docker) for tests and `make stack`.

LocalStack lives in its own virtualenv (``make localstack``) because its pins clash with ours, so
we only ever talk to it through a subprocess and HTTP. This module imports nothing beyond the
standard library: the test session and the CLI can import it without boto3 or LocalStack.

Run ``python -m scripts.localstack_host --port 4566`` to keep one in the foreground.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO

SERVICES = ("s3", "sqs")
READY_STATES = frozenset({"available", "running"})
PYTHON_ENV_VAR = "PIVFLEET_LOCALSTACK_PYTHON"
DEFAULT_VENV_PYTHON = Path(".localstack-venv") / "bin" / "python"
LOG_NAME = "localstack.log"


class LocalStackError(RuntimeError):
    """LocalStack did not come up; the message says why, with the tail of its log when it ran."""


class PortBusyError(LocalStackError):
    """The port asked for is taken: nothing was started."""

    def __init__(self, port: int, reason: str) -> None:
        super().__init__(
            f"port {port} on 127.0.0.1 is not free ({reason}): another LocalStack, `make stack` "
            "or `docker compose up` may hold it"
        )
        self.port = port


@dataclass
class LocalStackProcess:
    """A running LocalStack; stop it (or leave the ``with`` block) to free its port and state."""

    process: subprocess.Popen[bytes]
    port: int
    root: Path
    owns_root: bool
    _log: IO[bytes] = field(repr=False)

    @property
    def endpoint(self) -> str:
        """What boto3 wants in AWS_ENDPOINT_URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        """Where LocalStack's stdout and stderr go, for post-mortems."""
        return self.root / LOG_NAME

    def stop(self, timeout_seconds: float = 10) -> None:
        """Ask politely (SIGTERM lets it shut services down), then kill; remove our temp state."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout_seconds)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout_seconds)
        self._log.close()
        if self.owns_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> LocalStackProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def free_port() -> int:
    """Let the kernel pick a loopback port so parallel sessions never fight over 4566."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ensure_port_free(port: int) -> None:
    """Fail at once on a taken port: LocalStack 4.13.1 (hypercorn) still says "Ready." on a port
    it could not bind, and whatever owns the port might answer our health probe in its place."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as LocalStack's listener does
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            raise PortBusyError(port, exc.strerror or str(exc)) from exc


def localstack_env(port: int, root: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for a LocalStack 4.13.1 host process whose every file lives under ``root``.

    Checked against localstack/config.py 4.13.1:
    - OVERRIDE_IN_DOCKER=0: LocalStack sniffs /.dockerenv and cgroups; inside a CI container it
      would switch to the container layout (/var/lib/localstack, ignoring FILESYSTEM_ROOT) and ping
      the Docker bridge. Forcing host mode keeps the layout the same everywhere.
    - FILESYSTEM_ROOT: host-mode root of tmp, state, cache, logs (default: in the venv, shared).
    - TMP (with TMPDIR/TEMP removed): Python's tempfile dir for anything moto writes; LocalStack
      logs a deprecation warning for TMPDIR itself, TMP has the same effect without the noise.
    - CONFIG_DIR: otherwise ~/.localstack/default.env of the user leaks into the tests.
    - LOCALSTACK_VOLUME_DIR is only read by the Docker CLI; set anyway so nothing defaults to /tmp.
    - GATEWAY_SERVER=hypercorn: the default server, twisted, listens on every interface
      whatever host GATEWAY_LISTEN names (localstack/runtime/server/twisted.py passes only the
      port to TCP4ServerEndpoint); hypercorn binds exactly GATEWAY_LISTEN, so LocalStack, which
      takes any credentials, answers on the loopback only.
    - DNS_ADDRESS=0: no DNS server on port 53 (it would listen on 0.0.0.0; needs root; would
      clash between parallel runs).
    - EAGER_SERVICE_LOADING=1: S3 and SQS load at start (5-10 s on 2 cores) rather than inside
      whichever test calls them first, so per-test timings and timeouts mean something.
    - LOCALSTACK_HOST + SQS_ENDPOINT_STRATEGY=path: queue URLs point at this very endpoint
      (http://127.0.0.1:PORT/queue/...), not at *.localhost.localstack.cloud:4566 which needs DNS.
    """
    env = {k: v for k, v in (base or os.environ).items() if k not in {"TMPDIR", "TEMP"}}
    tmp = root / "tmp"
    env.update(
        GATEWAY_LISTEN=f"127.0.0.1:{port}",
        GATEWAY_SERVER="hypercorn",
        LOCALSTACK_HOST=f"127.0.0.1:{port}",
        SERVICES=",".join(SERVICES),
        SQS_ENDPOINT_STRATEGY="path",
        EAGER_SERVICE_LOADING="1",
        OVERRIDE_IN_DOCKER="0",
        FILESYSTEM_ROOT=str(root / "fs"),
        LOCALSTACK_VOLUME_DIR=str(root / "volume"),
        CONFIG_DIR=str(root / "config"),
        TMP=str(tmp),
        PERSISTENCE="0",
        DNS_ADDRESS="0",
        DISABLE_EVENTS="1",
        SKIP_SSL_CERT_DOWNLOAD="1",
        PYTHONUNBUFFERED="1",
    )
    tmp.mkdir(parents=True, exist_ok=True)
    return env


def health(endpoint: str) -> dict[str, str]:
    """Service states from /_localstack/health; empty while the gateway is not answering yet."""
    try:
        with urllib.request.urlopen(f"{endpoint}/_localstack/health", timeout=2) as resp:
            return dict(json.load(resp).get("services", {}))
    except (OSError, ValueError):  # connection refused, reset, timeout, half-written JSON
        return {}


def is_ready(services: Mapping[str, str]) -> bool:
    """S3 and SQS are loaded lazily, so "available" counts as ready as well as "running"."""
    return all(services.get(name) in READY_STATES for name in SERVICES)


def log_tail(path: Path, lines: int = 40) -> str:
    """Last lines of the LocalStack log, to put into an error a human can act on."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


def _die_with_parent() -> None:
    """Linux only: have the kernel SIGTERM LocalStack if the test runner dies without teardown."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _spawn(python: str, port: int, root: Path, owns_root: bool) -> LocalStackProcess:
    """Launch ``python -m localstack.runtime.main`` with its output in ``root/localstack.log``."""
    if os.sep in python:  # relative to our cwd (the Makefile passes one), not LocalStack's
        python = os.path.abspath(python)  # abspath, not resolve: the venv symlink must stay
    log = (root / LOG_NAME).open("wb")
    try:
        process = subprocess.Popen(
            [python, "-m", "localstack.runtime.main"],
            cwd=root,
            env=localstack_env(port, root),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509
        )
    except OSError as exc:
        log.close()
        raise LocalStackError(
            f"cannot run LocalStack with {python!r}: {exc}. Create its venv with `make localstack`."
        ) from exc
    return LocalStackProcess(process, port, root, owns_root, _log=log)


def _wait_ready(ls: LocalStackProcess, timeout_seconds: float) -> None:
    """Poll health until S3 and SQS are up; fail fast if the process dies on the way."""
    deadline = time.monotonic() + timeout_seconds
    services: dict[str, str] = {}
    while time.monotonic() < deadline:
        code = ls.process.poll()
        if code is not None:
            raise LocalStackError(
                f"LocalStack exited with code {code} before it was ready on {ls.endpoint}.\n"
                f"--- {ls.log_path} (tail) ---\n{log_tail(ls.log_path)}"
            )
        services = health(ls.endpoint)
        if is_ready(services):
            return
        time.sleep(0.1)
    states = {name: services.get(name, "no answer") for name in SERVICES}
    raise LocalStackError(
        f"LocalStack not ready on {ls.endpoint} after {timeout_seconds:g}s (states: {states}).\n"
        f"--- {ls.log_path} (tail) ---\n{log_tail(ls.log_path)}"
    )


def start_localstack(
    python: str,
    port: int | None = None,
    data_dir: Path | None = None,
    timeout_seconds: float = 60,
) -> LocalStackProcess:
    """Start LocalStack (S3 and SQS only) on 127.0.0.1 and return once both answer.

    ``python`` is the interpreter of the LocalStack venv. Without ``port`` a free one is picked;
    without ``data_dir`` state goes to a fresh temp dir that ``stop()`` removes, so parallel runs
    and repeated runs never see each other's buckets or queues.
    """
    if port is not None:
        ensure_port_free(port)
    owns_root = data_dir is None
    root = Path(data_dir or tempfile.mkdtemp(prefix="pivfleet-localstack-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        ls = _spawn(python, port or free_port(), root.resolve(), owns_root)
    except BaseException:
        if owns_root:
            shutil.rmtree(root, ignore_errors=True)
        raise
    try:
        _wait_ready(ls, timeout_seconds)
    except BaseException:  # the error already quotes the log; stop() may delete it
        ls.stop()
        raise
    return ls


def default_python(search_root: Path | None = None) -> str:
    """$PIVFLEET_LOCALSTACK_PYTHON, else the ``make localstack`` venv under ``search_root``/cwd."""
    configured = os.environ.get(PYTHON_ENV_VAR)
    if configured:
        return configured
    return str((search_root or Path.cwd()) / DEFAULT_VENV_PYTHON)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.localstack_host",
        description="Run LocalStack (S3, SQS) in the foreground without Docker; Ctrl-C stops it.",
    )
    parser.add_argument("--port", type=int, default=4566, help="loopback port (default 4566)")
    parser.add_argument(
        "--python",
        default=None,
        help=f"LocalStack venv interpreter (default ${PYTHON_ENV_VAR} or {DEFAULT_VENV_PYTHON})",
    )
    parser.add_argument("--data-dir", type=Path, default=None, help="keep state/log here")
    parser.add_argument("--timeout", type=float, default=60, help="seconds to wait for health")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Start one, print its endpoint, and stop it on SIGINT/SIGTERM or when it dies."""
    args = _parse_args(argv)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        python = args.python or default_python()
        ls = start_localstack(python, args.port, args.data_dir, args.timeout)
    except LocalStackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    with ls:
        print(f"LocalStack ready: AWS_ENDPOINT_URL={ls.endpoint} (log: {ls.log_path})", flush=True)
        while not stop.is_set() and ls.process.poll() is None:
            stop.wait(0.5)
        code = ls.process.poll()
    if code is not None and not stop.is_set():
        print(f"error: LocalStack exited with code {code}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
