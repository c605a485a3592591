"""One deployment: its settings and the typed S3 and SQS clients that reach it.

boto3 finds the endpoint in AWS_ENDPOINT_URL (LocalStack) or uses AWS itself; nothing here
knows which. Entry points build one Deployment and hand its stores and queues to the roles."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

from pivfleet.algorithms.registry import use_specs, use_stored_specs
from pivfleet.cloud.config import CloudConfig
from pivfleet.core.errors import AlgorithmError, UnknownRunError
from pivfleet.core.keys import current_generation
from pivfleet.core.topology import (
    RUN_SPEC_FILENAME,
    algorithm_spec_key,
    jobs_queue,
    results_queue,
    uploads_queue,
)
from pivfleet.roles.collector import ResultCollector
from pivfleet.roles.dispatcher import Dispatcher
from pivfleet.transports.s3 import S3BlobStore
from pivfleet.transports.sqs import SqsJobQueue, find_queue

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

CLIENT_CONFIG = Config(retries={"max_attempts": 10, "mode": "adaptive"}, max_pool_connections=32)


@dataclass(frozen=True)
class Deployment:
    config: CloudConfig
    s3: S3Client
    sqs: SQSClient

    @classmethod
    def connect(cls, config: CloudConfig) -> Deployment:
        session = boto3.session.Session(region_name=config.region)
        s3 = session.client("s3", config=CLIENT_CONFIG)
        sqs = session.client("sqs", config=CLIENT_CONFIG)
        return cls(config, s3, sqs)

    @property
    def endpoint(self) -> str:
        return str(self.sqs.meta.endpoint_url)

    def inputs(self) -> S3BlobStore:
        return S3BlobStore(self.s3, self.config.input_bucket)

    def outputs(self) -> S3BlobStore:
        """The output bucket: outputs under `<run>/`, intermediate objects under `runs/`."""
        return S3BlobStore(self.s3, self.config.output_bucket)

    def check_run(self, run: str) -> None:
        """UnknownRunError unless something was ever submitted or written under `run`."""
        outputs = self.outputs()
        # Cheapest first: a run being followed has its current marker; listing comes last.
        if current_generation(outputs, run) is not None:
            return
        if self.inputs().exists(f"{run}/{RUN_SPEC_FILENAME}") or outputs.list(f"{run}/"):
            return
        raise UnknownRunError(
            f"no run {run!r} in s3://{self.config.input_bucket} or "
            f"s3://{self.config.output_bucket}: check the id, or submit it with "
            f"`pivfleet submit FRAMES --run {run}`"
        )

    def queue(self, name: str) -> SqsJobQueue:
        return SqsJobQueue(self.sqs, name)

    def uploads_queue(self) -> SqsJobQueue:
        return self.queue(uploads_queue(self.config.name_prefix).name)

    def results_queue(self) -> SqsJobQueue:
        return self.queue(results_queue(self.config.name_prefix).name)

    def jobs_queue(self, algorithm: str) -> SqsJobQueue:
        return self.queue(jobs_queue(algorithm, self.config.name_prefix).name)

    def known_jobs_queue(self, algorithm: str) -> SqsJobQueue:
        """The algorithm's queue, or AlgorithmError when this deployment has none."""
        name = jobs_queue(algorithm, self.config.name_prefix).name
        queue = find_queue(self.sqs, name)
        if queue is None:
            raise AlgorithmError(
                f"unknown algorithm {algorithm!r}: no queue {name}; install its plugin (or put "
                "its spec in the folder PIVFLEET_ALGORITHM_SPECS names) and run "
                "`pivfleet bootstrap`"
            )
        return queue

    def stored_spec(self, algorithm: str) -> tuple[str, str] | None:
        """The spec `pivfleet bootstrap` stored for `algorithm` and its address, or None."""
        key = algorithm_spec_key(algorithm)
        try:
            text = self.outputs().get(key).decode("utf-8")
        except KeyError:
            return None
        return text, f"s3://{self.config.output_bucket}/{key}"

    def dispatcher(self) -> Dispatcher:
        """The dispatcher; it plans a wrapped algorithm by its spec (this process's
        PIVFLEET_ALGORITHM_SPECS, else the one bootstrap stored), so its tiles and halo hold."""
        use_specs(self.config.algorithm_specs)
        use_stored_specs(self.stored_spec)
        return Dispatcher(self.inputs(), self.outputs(), self.known_jobs_queue)

    def result_collector(self) -> ResultCollector:
        return ResultCollector(self.outputs(), self.known_jobs_queue)
