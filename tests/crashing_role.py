"""`python -m tests.crashing_role`: a role process that dies at one exact point, as `kill -9`
would (no cleanup, nothing settled), for the crash-window tests; or, for `worker:fails_pass_2`,
a worker whose algorithm fails on one tile's second pass.

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
    "collector:between_passes": ("collector", "pivfleet.roles.rounds", "plan_pass_jobs", False),
    "collector:after_step": ("collector", "pivfleet.roles.collector", "plan_step_jobs", False),
}
FAILING_TILE = 0
"""`worker:fails_pass_2`: this tile's second pass raises, as an algorithm bug would."""


def fail_second_pass(real: Callable[..., Any]) -> Callable[..., Any]:
    def call(frames: Any, piv: Any, index: int, tile: Any, predictor: Any) -> Any:
        if index == 1 and tile.index == FAILING_TILE:
            raise ValueError("injected fault in the second pass")
        return real(frames, piv, index, tile, predictor)

    return call


def main() -> None:
    if os.environ["PIVFLEET_TEST_CRASH"] == "worker:fails_pass_2":
        from pivfleet.roles import worker

        worker.map_pass = fail_second_pass(worker.map_pass)  # type: ignore[assignment]
        runpy.run_module("worker", run_name="__main__", alter_sys=True)
        return
    role, module_name, attribute, partial = POINTS[os.environ["PIVFLEET_TEST_CRASH"]]
    owner: Any = importlib.import_module(module_name)
    *path, name = attribute.split(".")
    for part in path:
        owner = getattr(owner, part)
    setattr(owner, name, after_first_call(getattr(owner, name)) if partial else die)
    runpy.run_module(role, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
