"""The user's side of a cloud run: upload a folder as a run, download its outputs."""

from __future__ import annotations

from pathlib import Path

from pivfleet.cloud.deployment import Deployment
from pivfleet.core.errors import OutputError, PairingError, RunExistsError
from pivfleet.core.imaging import is_image_name
from pivfleet.core.keys import (
    NETCDF_SUFFIX,
    PLOT_SUFFIX,
    RUN_OUTPUT_STEM,
    SUMMARY_FILENAME,
    bucket_keys,
)
from pivfleet.core.plan import RunPlan
from pivfleet.core.spec import RunSpec
from pivfleet.core.summary import RunSummary
from pivfleet.core.topology import RUN_SPEC_FILENAME
from pivfleet.roles.outputs import RunOutputs
from pivfleet.roles.storage import RunStorage

RUN_FILES = frozenset(
    {SUMMARY_FILENAME, RUN_OUTPUT_STEM + NETCDF_SUFFIX, RUN_OUTPUT_STEM + PLOT_SUFFIX}
)
"""What `pivfleet results --merged` downloads: the run's own outputs."""


def submit(deployment: Deployment, folder: Path, spec: RunSpec, replace: bool = False) -> int:
    """Upload the frames, then run.json last: its notification starts the run (a new
    generation, whose outputs replace the earlier ones completely)."""
    for algorithm in spec.algorithms:
        deployment.known_jobs_queue(algorithm)
    frames = sorted(p for p in folder.rglob("*") if p.is_file() and is_image_name(p.name))
    if not frames:
        raise PairingError(f"{folder}: no image files to submit")
    spec = spec.model_copy(update={"frames": len(frames)})  # so the dispatcher need not wait
    store, spec_key = deployment.inputs(), f"{spec.run}/{RUN_SPEC_FILENAME}"
    keys = {f"{spec.run}/{path.relative_to(folder).as_posix()}": path for path in frames}
    earlier = store.list(f"{spec.run}/")
    if earlier and not replace:
        raise RunExistsError(
            f"run {spec.run!r} was submitted before: replace it (its frames and outputs) with "
            f"`pivfleet submit {folder} --run {spec.run} --replace`, or choose another --run"
        )
    store.delete([key for key in earlier if key not in keys and key != spec_key])
    for key, path in keys.items():
        store.put(key, path.read_bytes())
    store.put(spec_key, spec.model_dump_json(indent=2).encode())
    return len(frames)


def download_results(
    deployment: Deployment, run: str, out: Path, merged: bool = False
) -> list[Path]:
    """The run's output files into `out`; `merged`: only the run's own (`summary.json`,
    `run.nc`, `run.png`), not each pair's."""
    store, written = deployment.outputs(), []
    if merged and not store.exists(f"{run}/{RUN_OUTPUT_STEM}{NETCDF_SUFFIX}"):
        assemble_run_dataset(deployment, run)
    keys = store.list(f"{run}/")
    if merged:
        keys = [key for key in keys if key.removeprefix(f"{run}/") in RUN_FILES]
    for key in keys:
        target = out / key.removeprefix(f"{run}/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(store.get(key))
        written.append(target)
    return written


def assemble_run_dataset(deployment: Deployment, run: str) -> None:
    """Write the finished run's missing `run.nc` (its collector died assembling it)."""
    store = deployment.outputs()
    try:
        summary = RunSummary.model_validate_json(store.get(f"{run}/{SUMMARY_FILENAME}"))
    except KeyError:
        raise OutputError(
            f"run {run!r} has not finished: its {RUN_OUTPUT_STEM}{NETCDF_SUFFIX} is written "
            f"when it does (`pivfleet status {run} --watch`)"
        ) from None
    if summary.spec is None or summary.generation is None or not summary.spec.outputs.dataset:
        raise OutputError(
            f"run {run!r} has no {RUN_OUTPUT_STEM}{NETCDF_SUFFIX}: it was {summary.status} "
            "without one (run.json's outputs.dataset is false, or no pair was measured); "
            "leave out --merged to download each pair's files"
        )
    keys = bucket_keys(run, summary.generation)
    plan = RunPlan.model_validate_json(store.get(keys.plan()))
    RunOutputs(RunStorage(store, store, keys), plan).write_run(summary.pairs)
