"""What the same small run costs three ways, in the spirit of the serverless-thumbnails
comparisons (one workload sequential, on a process pool, and through queues, each with its
time and its bill):

(a) sequential: `pivfleet run --workers 1`;
(b) a process pool: `pivfleet run --workers 2`;
(c) the queue pipeline on a LocalStack of its own (no Docker) with plain processes, as
    `make stack` and tests/integration run it: the dispatcher poller, two workers of one process
    each, the collector.

The run: seeded synthetic pairs (tests/synthetic.py: uniform, shear, vortex, sinusoidal in
turn), whole pairs in every mode (`tiling: auto` keeps pairs whole when they are at least twice
the workers). Each mode's numbers come from the run's own summary.json (`core/cost.py`): worker
seconds, requests, bytes, estimated cost at the default prices; wall time is the process's
start to exit for (a) and (b), and run.json's upload to summary.json for (c), whose roles are
started and ready before (their start-up is the fleet's, not the run's).

Run: .venv/bin/python bench/cost.py [--pairs 8] [--size 1024] [--engine openpiv]
Needs the LocalStack venv (`make localstack`, or $PIVFLEET_LOCALSTACK_PYTHON).
Writes bench/results/cost.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # tests/synthetic.py and the integration helpers
sys.path.insert(0, str(Path(__file__).resolve().parent))

from throughput import machine, point_boto3_at  # noqa: E402  (as the queue bench does)

from pivfleet.core.summary import RunSummary  # noqa: E402
from tests.integration.helpers import Cloud, Role, Roles, wait_for  # noqa: E402
from tests.synthetic import make_pair, shear, sinusoidal, uniform, vortex, write_pair  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "cost.json"
RUN = "cost"
RUN_TIMEOUT_SECONDS = 600.0


def write_pairs(folder: Path, pairs: int, size: int) -> int:
    """`pairs` seeded pairs of `size` px squares; their frames' bytes."""
    flows = [uniform(), shear(), vortex((size / 2, size / 2)), sinusoidal()]
    for index in range(pairs):
        pair = make_pair((size, size), flows[index % len(flows)], seed=index)
        write_pair(folder, f"pair{index:02d}", pair)
    return sum(f.stat().st_size for f in folder.iterdir())


def embedded(frames: Path, out: Path, workers: int, engine: str) -> dict[str, Any]:
    """`pivfleet run` as a user runs it: a fresh process, timed from start to exit."""
    command = [
        sys.executable, "-m", "pivfleet.cli", "run", str(frames), "--out", str(out),
        "--workers", str(workers), "--engine", engine, "--run", RUN,
    ]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    started = time.perf_counter()
    subprocess.run(command, check=True, env=env, capture_output=True, cwd=REPO_ROOT)
    wall = time.perf_counter() - started
    summary = RunSummary.model_validate_json((out / "summary.json").read_bytes())
    return figures(summary, wall)


def ready(role: Role, message: str) -> bool:
    return bool(role.messages(message))


def pipeline(frames: Path, logs: Path, engine: str, workers: int) -> dict[str, Any]:
    """Bootstrap, start the roles and wait until each listens, upload the frames, then time
    run.json's upload to its summary."""
    from pivfleet.cloud.bootstrap import bootstrap
    from pivfleet.cloud.config import CloudConfig
    from pivfleet.core.spec import PivSettings, RunSpec

    prefix = "bench-cost"
    bootstrap(CloudConfig.from_env({"PIVFLEET_NAME_PREFIX": prefix}), ["windef"])
    roles, cloud = Roles(logs, prefix), Cloud(prefix)
    try:
        started = [roles.start("dispatcher"), roles.start("collector")]
        started += [roles.start("worker", worker_processes="1") for _ in range(workers)]
        for role in started:
            message = "worker started" if role.module == "worker" else "polling"
            wait_for(lambda role=role, m=message: ready(role, m), 120, f"{role.module} ready")
        names = sorted(p.name for p in frames.iterdir())
        for name in names:
            cloud.put(f"{RUN}/{name}", (frames / name).read_bytes())
        spec = RunSpec(run=RUN, workers=workers, piv=PivSettings(engine=engine), frames=len(names))
        began = time.perf_counter()
        cloud.put(f"{RUN}/run.json", spec.model_dump_json().encode())
        found = wait_for(lambda: cloud.summary(RUN), RUN_TIMEOUT_SECONDS, "summary.json", 0.1)
        wall = time.perf_counter() - began
    finally:
        roles.stop_all()
    return figures(RunSummary.model_validate(found), wall)


def figures(summary: RunSummary, wall: float) -> dict[str, Any]:
    """What the table shows of one mode, from its summary."""
    if summary.status != "done" or summary.usage is None or summary.cost is None:
        raise RuntimeError(f"run not done: {summary.status} {summary.message or ''}")
    usage, cost = summary.usage, summary.cost
    total = usage.total
    by_role = {
        role: {"requests": part.requests.model_dump(), "bytes_read": part.bytes_read,
               "bytes_written": part.bytes_written, "bytes_kept": part.bytes_kept}
        for role, part in (("workers", usage.workers), ("dispatcher", usage.dispatcher),
                           ("collector", usage.collector))
    }  # fmt: skip
    return {
        "wall_seconds": round(wall, 2),
        "summary_wall_seconds": summary.wall_seconds,
        "jobs": summary.tiles,
        "tile_seconds": summary.tile_seconds,
        "worker_seconds": round(total.worker_seconds, 2),
        "vcpu_seconds": round(total.vcpu_seconds, 2),
        "gb_seconds": round(total.gb_seconds, 2),
        "s3_requests": total.requests.s3_reads + total.requests.s3_writes,
        "sqs_requests": total.requests.sqs,
        "bytes_read": total.bytes_read,
        "bytes_written": total.bytes_written,
        "bytes_kept": total.bytes_kept,
        "cost": cost.model_dump(),
        "usd_per_1000_pairs": round(cost.total_usd / summary.pairs_total * 1000, 4),
        "by_role": by_role,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--size", type=int, default=1024, help="frame side, px")
    parser.add_argument("--engine", choices=["openpiv", "fast"], default="openpiv")
    args = parser.parse_args()
    from scripts.localstack_host import default_python, start_localstack

    began = time.perf_counter()
    modes: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        frame_bytes = write_pairs(root / "in", args.pairs, args.size)
        for workers in (1, 2):
            name = f"{'sequential' if workers == 1 else 'pool'}, pivfleet run --workers {workers}"
            modes[name] = embedded(root / "in", root / f"out{workers}", workers, args.engine)
            print(name, json.dumps(modes[name], indent=2), flush=True)
        (root / "logs").mkdir()
        with start_localstack(default_python(REPO_ROOT)) as localstack:
            point_boto3_at(localstack.endpoint)
            name = "queues on LocalStack: dispatcher, 2 workers, collector"
            modes[name] = pipeline(root / "in", root / "logs", args.engine, 2)
            print(name, json.dumps(modes[name], indent=2), flush=True)
    report = {
        "machine": machine(),
        "command": f".venv/bin/python bench/cost.py --pairs {args.pairs} --size {args.size} "
        f"--engine {args.engine}",
        "seconds_total": round(time.perf_counter() - began, 1),
        "run": {
            "pairs": args.pairs,
            "frames": f"synthetic {args.size}x{args.size} 8-bit TIFF",
            "frame_bytes": frame_bytes,
            "engine": args.engine,
            "piv": "default 64/32/16",
        },
        "prices": "core/cost.py defaults: 2025 us-east-1 list prices, worker time on Fargate Spot",
        "worker_size": "1 vCPU and 4 GB per worker process (the default)",
        "modes": modes,
    }
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "modes"}, indent=2))


if __name__ == "__main__":
    main()
