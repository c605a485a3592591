"""The user's side of the cloud path: submit a folder, watch it, fetch results, inspect DLQs."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from pivfleet.aws import S3BlobStore, client, queue_exists
from pivfleet.config import CloudConfig
from pivfleet.errors import AlgorithmError, PairingError
from pivfleet.imaging import is_image_name
from pivfleet.layout import cloud_layout
from pivfleet.messages import TileJob
from pivfleet.planning import RunPlan
from pivfleet.progress import progress_line
from pivfleet.summary import PairStatus, RunSummary
from pivfleet.topology import RUN_SPEC_FILENAME, jobs_queue

DLQ_PEEK_VISIBILITY_SECONDS = 2
DLQ_MAX_PEEKS = 100


def submit(folder: Path, spec: Any, config: CloudConfig | None = None) -> int:
    """Upload the frames, then run.json last: its notification starts the run."""
    config = config or CloudConfig.from_env()
    if not queue_exists(jobs_queue(spec.algorithm, config.name_prefix).name):
        raise AlgorithmError(f"unknown algorithm {spec.algorithm!r}: no jobs queue; run bootstrap")
    frames = sorted(p for p in folder.rglob("*") if p.is_file() and is_image_name(p.name))
    if not frames:
        raise PairingError(f"{folder}: no image files to submit")
    store = S3BlobStore(config.input_bucket)
    for path in frames:
        store.put(f"{spec.run}/{path.relative_to(folder).as_posix()}", path.read_bytes())
    store.put(f"{spec.run}/{RUN_SPEC_FILENAME}", spec.model_dump_json(indent=2).encode())
    return len(frames)


@dataclass(frozen=True)
class RunStatus:
    run: str
    plan: RunPlan | None
    tiles_done: int
    pairs: list[PairStatus]
    summary: RunSummary | None

    @property
    def finished(self) -> bool:
        return self.summary is not None

    def line(self) -> str:
        if self.summary is not None and self.summary.status == "rejected":
            return f"{self.run}: rejected: {self.summary.message}"
        if self.plan is None:
            return f"{self.run}: waiting for the dispatcher"
        tiles = sum(p.tile_count for p in self.plan.pairs)
        failed = sum(p.status != "done" for p in self.pairs)
        elapsed = time.time() - self.plan.created_at
        counts = (len(self.pairs), len(self.plan.pairs), failed, self.tiles_done, tiles)
        text = f"{self.run}: {progress_line(*counts, elapsed)}"
        if self.summary is not None:
            text += (
                f" — {self.summary.status}: {self.summary.pairs_done} done, "
                f"{self.summary.pairs_partial} partial, {self.summary.pairs_failed} failed"
            )
        return text


def read_status(run: str, config: CloudConfig | None = None) -> RunStatus:
    config = config or CloudConfig.from_env()
    store, layout = S3BlobStore(config.output_bucket), cloud_layout(run)
    summary = plan = None
    if store.exists(layout.summary()):
        summary = RunSummary.model_validate_json(store.get(layout.summary()))
    if store.exists(layout.plan()):
        plan = RunPlan.model_validate_json(store.get(layout.plan()))
    tiles = len(store.list(f"{layout.work}/results/"))
    keys = store.list(layout.pair_statuses())
    pairs = [PairStatus.model_validate_json(store.get(key)) for key in keys]
    return RunStatus(run, plan, tiles, pairs, summary)


def download_results(run: str, out: Path, config: CloudConfig | None = None) -> list[Path]:
    config = config or CloudConfig.from_env()
    store, written = S3BlobStore(config.output_bucket), []
    for key in store.list(f"{run}/"):
        target = out / key.removeprefix(f"{run}/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(store.get(key))
        written.append(target)
    return written


def dead_letter_queues(config: CloudConfig) -> list[tuple[str, str]]:
    """(source queue name, DLQ url) for every jobs queue of this deployment."""
    sqs, prefix = client("sqs"), f"{config.name_prefix}-jobs-"
    urls = sqs.list_queues(QueueNamePrefix=prefix).get("QueueUrls", [])
    return [(u.rsplit("/", 1)[1].removesuffix("-dlq"), u) for u in urls if u.endswith("-dlq")]


def peek(dlq_url: str) -> list[dict[str, Any]]:
    """Every message in a DLQ, hidden while the pass runs so it sees each once; callers
    `release` what they leave behind so the next command sees it at once."""
    sqs, seen = client("sqs"), {}
    for _ in range(DLQ_MAX_PEEKS):
        response = sqs.receive_message(
            QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
            VisibilityTimeout=DLQ_PEEK_VISIBILITY_SECONDS, MessageAttributeNames=["All"],
        )  # fmt: skip
        batch = response.get("Messages", [])
        if not batch:
            break
        seen.update({m["MessageId"]: m for m in batch})
    return list(seen.values())


def release(dlq_url: str, messages: list[dict[str, Any]]) -> None:
    sqs = client("sqs")
    for raw in messages:
        sqs.change_message_visibility(
            QueueUrl=dlq_url, ReceiptHandle=raw["ReceiptHandle"], VisibilityTimeout=0
        )


def describe(raw: dict[str, Any], source: str) -> dict[str, Any]:
    reason = raw.get("MessageAttributes", {}).get("reason", {}).get("StringValue")
    entry: dict[str, Any] = {"queue": source, "reason": reason or "exceeded the receive count"}
    try:
        job = TileJob.model_validate_json(raw["Body"])
        entry |= {"run": job.run, "pair": job.pair, "tile": job.tile.index}
    except ValidationError:
        entry |= {"run": None, "malformed": raw["Body"][:200]}
    return entry


def list_dead_letters(run: str, config: CloudConfig | None = None) -> list[dict[str, Any]]:
    config = config or CloudConfig.from_env()
    letters = []
    for source, url in dead_letter_queues(config):
        messages = peek(url)
        letters += [describe(m, source) for m in messages]
        release(url, messages)
    return [e for e in letters if e["run"] in (run, None)]


def redrive(run: str, config: CloudConfig | None = None) -> int:
    """Move this run's dead jobs back to their queues for another try."""
    config, sqs, moved = config or CloudConfig.from_env(), client("sqs"), 0
    for source, url in dead_letter_queues(config):
        source_url = sqs.get_queue_url(QueueName=source)["QueueUrl"]
        messages = peek(url)
        ours = [m for m in messages if describe(m, source)["run"] == run]
        for raw in ours:
            sqs.send_message(QueueUrl=source_url, MessageBody=raw["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=raw["ReceiptHandle"])
        release(url, [m for m in messages if m not in ours])
        moved += len(ours)
    return moved
