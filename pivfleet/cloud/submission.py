"""The user's side of a cloud run: upload a folder as a run, download its outputs."""

from __future__ import annotations

from pathlib import Path

from pivfleet.cloud.deployment import Deployment
from pivfleet.core.errors import PairingError, RunExistsError
from pivfleet.core.imaging import is_image_name
from pivfleet.core.spec import RunSpec
from pivfleet.core.topology import RUN_SPEC_FILENAME


def submit(deployment: Deployment, folder: Path, spec: RunSpec, replace: bool = False) -> int:
    """Upload the frames, then run.json last: its notification starts the run (a new
    generation, whose outputs replace the earlier ones completely)."""
    deployment.known_jobs_queue(spec.algorithm)
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


def download_results(deployment: Deployment, run: str, out: Path) -> list[Path]:
    store, written = deployment.outputs(), []
    for key in store.list(f"{run}/"):
        target = out / key.removeprefix(f"{run}/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(store.get(key))
        written.append(target)
    return written
