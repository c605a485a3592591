"""Cloud commands: bootstrap, submit, status, results, dlq. Settings come from PIVFLEET_*.

The cloud modules are imported inside each command: boto3 costs `pivfleet run` nothing."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from pivfleet.cli import options
from pivfleet.roles.reconciler import STALE_SECONDS

if TYPE_CHECKING:
    from pivfleet.cloud.deployment import Deployment

WATCH_INTERVAL_SECONDS = 2.0


def connect() -> Deployment:
    from pivfleet.cloud.config import CloudConfig
    from pivfleet.cloud.deployment import Deployment

    return Deployment.connect(CloudConfig.from_env())


def command_bootstrap(args: argparse.Namespace) -> int:
    """Queues for every algorithm installed here and every spec of PIVFLEET_ALGORITHM_SPECS;
    a bad spec stops it before anything is created."""
    from pivfleet.algorithms.registry import available_algorithms, registered_specs, use_specs
    from pivfleet.cloud.bootstrap import bootstrap
    from pivfleet.cloud.config import CloudConfig

    config = CloudConfig.from_env()
    use_specs(config.algorithm_specs)
    specs = registered_specs()
    arns = bootstrap(config, available_algorithms(), specs)
    print(f"ready: {len(arns)} queues ({', '.join(sorted(arns))})")
    if specs:
        print(f"specs stored for the dispatcher: {', '.join(s.name for s in specs)}")
    return 0


def command_submit(args: argparse.Namespace) -> int:
    from pivfleet.algorithms.registry import check_run, use_specs, use_stored_specs
    from pivfleet.cloud.config import algorithm_specs
    from pivfleet.cloud.submission import submit

    spec = options.build_spec(args, run=args.run, workers=args.workers)
    deployment = connect()
    use_specs(algorithm_specs())
    use_stored_specs(deployment.stored_spec)
    check_run(spec)  # the algorithms installed here and those bootstrap stored
    count = submit(deployment, Path(args.input), spec, replace=args.replace)
    print(
        f"uploaded {count} frames and {args.run}/run.json; follow with: pivfleet status {args.run}"
    )
    return 0


def command_status(args: argparse.Namespace) -> int:
    from pivfleet.cloud.status import read_status

    deployment = connect()
    while True:
        status = read_status(deployment, args.run)
        print(status.line(), file=sys.stderr if args.watch and sys.stderr.isatty() else sys.stdout)
        if not args.watch or status.finished:
            for line in [status.cost_line(), *status.failures()]:
                if line:
                    print(line)
            return 0 if status.summary is None or status.summary.status == "done" else 1
        time.sleep(WATCH_INTERVAL_SECONDS)


def command_results(args: argparse.Namespace) -> int:
    from pivfleet.cloud.submission import download_results

    deployment = connect()
    deployment.check_run(args.run)
    files = download_results(deployment, args.run, Path(args.out), merged=args.merged)
    print(f"downloaded {len(files)} files to {args.out}")
    return 0


def command_reconcile(args: argparse.Namespace) -> int:
    from pivfleet.cloud.status import reconciler

    found = reconciler(connect(), args.stale_after)
    runs = args.runs or found.runs()
    findings = [found.examine(run, act=not args.dry_run) for run in runs]
    for finding in findings:
        print(finding.line())
    return 0


def command_dlq(args: argparse.Namespace) -> int:
    from pivfleet.cloud.dead_letters import list_dead_letters, redrive

    deployment = connect()
    if args.redrive:
        moved = redrive(deployment, args.run)
        if not moved:
            deployment.check_run(args.run)  # nothing to move: say so if the run is unknown
        print(f"moved {moved} jobs back to their queues")
        return 0
    letters = list_dead_letters(deployment, args.run)
    for letter in letters:
        print(json.dumps(letter))
    if not letters:
        deployment.check_run(args.run)
        print(f"no dead-lettered jobs for {args.run}")
    return 0 if not letters else 1


class DeprecatedAlias(argparse.Action):
    """An old flag name that still works, with a warning naming the new one."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        new = f"--{self.dest.replace('_', '-')}"
        print(f"pivfleet: warning: {option_string} is deprecated; use {new}", file=sys.stderr)
        setattr(namespace, self.dest, values)


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bootstrap = commands.add_parser("bootstrap", help="create buckets and queues (idempotent)")
    bootstrap.set_defaults(handler=command_bootstrap)
    submit = commands.add_parser("submit", help="upload a folder of frames as a run")
    submit.add_argument("input", help="folder of frames")
    submit.add_argument("--run", required=True, help="run name (letters, digits, . _ -)")
    submit.add_argument(
        "--workers", type=int, default=16, help="workers the fleet runs, for --tiling auto (16)"
    )
    submit.add_argument(
        "--expected-workers", type=int, dest="workers", action=DeprecatedAlias,
        default=argparse.SUPPRESS, help=argparse.SUPPRESS,
    )  # fmt: skip
    submit.add_argument(
        "--replace", action="store_true", help="replace an earlier run of this id, outputs too"
    )
    options.add_run_options(submit)
    submit.set_defaults(handler=command_submit)
    status = commands.add_parser("status", help="progress of a run")
    status.add_argument("run")
    status.add_argument("--watch", action="store_true", help="refresh until the run ends")
    status.set_defaults(handler=command_status)
    results = commands.add_parser("results", help="download a run's outputs")
    results.add_argument("run")
    results.add_argument("--out", required=True)
    results.add_argument(
        "--merged",
        action="store_true",
        help="only the run's own files: run.nc (every pair along time), run.png, summary.json",
    )
    results.set_defaults(handler=command_results)
    reconcile = commands.add_parser(
        "reconcile", help="find stalled runs, say what each waits for, re-drive the missing step"
    )
    reconcile.add_argument("runs", nargs="*", help="runs to look at (default: every run)")
    reconcile.add_argument(
        "--stale-after",
        type=float,
        default=STALE_SECONDS,
        help=f"seconds without progress before a step is stalled (default {STALE_SECONDS:g})",
    )
    reconcile.add_argument("--dry-run", action="store_true", help="only say what it would do")
    reconcile.set_defaults(handler=command_reconcile)
    dlq = commands.add_parser("dlq", help="list a run's dead-lettered jobs")
    dlq.add_argument("run")
    dlq.add_argument("--redrive", action="store_true", help="send them back to be retried")
    dlq.set_defaults(handler=command_dlq)
