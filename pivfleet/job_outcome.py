"""Settling a received job: what to send, ack, retry or dead-letter. Retries are policy here,
not scattered `try` blocks in the roles."""

from __future__ import annotations

import logging

from pydantic import ValidationError

from pivfleet.messages import TileJob, TileResult, parse_message
from pivfleet.ports import JobQueue, Message
from pivfleet.processing import failed_result
from pivfleet.topology import MAX_RECEIVE_COUNT

log = logging.getLogger(__name__)
BACKOFF_BASE_SECONDS = 5
BACKOFF_MAX_SECONDS = 300


def backoff_seconds(receive_count: int) -> int:
    return int(min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (receive_count - 1)))


def parse_job(message: Message, jobs: JobQueue) -> TileJob | None:
    """The job in `message`, or None after dead-lettering a poison pill."""
    try:
        parsed = parse_message(message.body)
    except ValidationError as error:
        reason = f"invalid message: {error.errors(include_url=False)[:3]}"
        log.error("dead-lettering a malformed job message", extra={"reason": reason})
        jobs.dead_letter(message, reason)
        return None
    if not isinstance(parsed, TileJob):
        jobs.dead_letter(message, f"expected a tile_job, got {parsed.kind}")
        return None
    return parsed


def settle_result(jobs: JobQueue, results: JobQueue, message: Message, result: TileResult) -> None:
    """Report the result first, then retire the job: a crash between the two repeats the
    job (idempotent) instead of losing the result."""
    results.send([result.model_dump_json()])
    if result.status == "failed":
        jobs.dead_letter(message, result.error or "failed")
    else:
        jobs.ack(message)


def settle_error(
    jobs: JobQueue, results: JobQueue, message: Message, job: TileJob, error: BaseException
) -> None:
    """A transient error: back off and retry, until the last delivery turns it permanent."""
    reason = f"{type(error).__name__}: {error}"
    if message.receive_count >= MAX_RECEIVE_COUNT:
        settle_result(
            jobs, results, message, failed_result(job, f"gave up after retries: {reason}")
        )
        return
    delay = backoff_seconds(message.receive_count)
    log.warning(
        "tile failed, retrying", extra={"tile": job.tile.index, "reason": reason, "delay": delay}
    )
    jobs.retry_later(message, delay)
