"""`python -m tests.crashing_role`: a role process that dies at one exact point, as `kill -9`
would (no cleanup, nothing settled), for the crash-window tests.

`PIVFLEET_TEST_CRASH` names the point; the role then runs its ordinary `python -m` entry.
"""

from __future__ import annotations

import importlib
import os
import runpy
import threading
from collections.abc import Callable
from typing import Any

KILLED_EXIT_CODE = 137


def die(*_: Any, **__: Any) -> Any:
    os._exit(KILLED_EXIT_CODE)


def after_first_call(real: Callable[..., Any]) -> Callable[..., Any]:
    """Let one call finish, then die on the next: a crash in the middle of a sequence."""
    first_done, lock, calls = threading.Event(), threading.Lock(), [0]

    def call(*args: Any, **kwargs: Any) -> Any:
        with lock:
            calls[0] += 1
            mine = calls[0]
        if mine > 1:
            first_done.wait(30)
            die()
        result = real(*args, **kwargs)
        first_done.set()
        return result

    return call


POINTS: dict[str, tuple[str, str, str, bool]] = {
    # point: (role module, module patched, attribute, die after its first call)
    "dispatcher:before_plan": ("dispatcher", "pivfleet.roles.dispatcher", "plan_run", False),
    "dispatcher:before_jobs": ("dispatcher", "pivfleet.roles.dispatcher", "plan_jobs", False),
    "dispatcher:mid_send": (
        "dispatcher",
        "pivfleet.transports.sqs",
        "SqsJobQueue._send_batch",
        True,
    ),
    "collector:before_summary": ("collector", "pivfleet.roles.collector", "summarise", False),
    "worker:every_tile": ("worker", "pivfleet.roles.worker", "compute_tile", False),
}


def main() -> None:
    role, module_name, attribute, partial = POINTS[os.environ["PIVFLEET_TEST_CRASH"]]
    owner: Any = importlib.import_module(module_name)
    *path, name = attribute.split(".")
    for part in path:
        owner = getattr(owner, part)
    setattr(owner, name, after_first_call(getattr(owner, name)) if partial else die)
    runpy.run_module(role, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
