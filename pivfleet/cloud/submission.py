"""The user's side of a cloud run: upload a folder as a run, download its outputs."""

from __future__ import annotations

from pathlib import Path

from pivfleet.cloud.deployment import Deployment
from pivfleet.core.errors import PairingError
from pivfleet.core.imaging import is_image_name
from pivfleet.core.spec import RunSpec
from pivfleet.core.topology import RUN_SPEC_FILENAME


def submit(deployment: Deployment, folder: Path, spec: RunSpec) -> int:
    """Upload the frames, then run.json last: its notification starts the run."""
    deployment.known_jobs_queue(spec.algorithm)
    frames = sorted(p for p in folder.rglob("*") if p.is_file() and is_image_name(p.name))
    if not frames:
        raise PairingError(f"{folder}: no image files to submit")
    store = deployment.inputs()
    for path in frames:
        store.put(f"{spec.run}/{path.relative_to(folder).as_posix()}", path.read_bytes())
    store.put(f"{spec.run}/{RUN_SPEC_FILENAME}", spec.model_dump_json(indent=2).encode())
    return len(frames)


def download_results(deployment: Deployment, run: str, out: Path) -> list[Path]:
    store, written = deployment.outputs(), []
    for key in store.list(f"{run}/"):
        target = out / key.removeprefix(f"{run}/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(store.get(key))
        written.append(target)
    return written
