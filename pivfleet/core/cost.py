"""What a run used and what that would cost on AWS: worker time, requests, bytes, and prices.

The counts come from `roles/metrics.py` (a meter around the stores and queues every role uses),
so an embedded run counts the requests its folders and in-memory queues stand in for: the
same run on S3 and SQS would make them. Only work is counted: a worker's idle time and its
empty receives are the deployed fleet's standing cost, not a run's."""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from pivfleet.core.topology import SQS_MAX_BATCH_MESSAGES

SQS_BILLED_CHUNK_BYTES = 64 * 1024
"""SQS bills each 64 KiB of a request's payload (a batch's bodies together) as one request."""
S3_LIST_PAGE_KEYS = 1000
"""ListObjectsV2 returns at most this many keys a page (a request)."""
S3_DELETE_BATCH_KEYS = 1000
"""DeleteObjects takes at most this many keys a request."""
GIB_BYTES = 2**30
"""AWS's GB in Fargate memory (MiB / 1024) and S3 storage is 2^30 bytes."""
SECONDS_PER_HOUR = 3600

RequestName = Literal[
    "s3_get",
    "s3_head",
    "s3_put",
    "s3_list",
    "s3_delete",
    "sqs_send",
    "sqs_receive",
    "sqs_delete",
    "sqs_change_visibility",
]


class Requests(BaseModel):
    """Requests to S3 and SQS, as AWS bills them (an embedded run: what S3 and SQS would bill)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    s3_get: int = 0
    """GetObject, whole or a byte range."""
    s3_head: int = 0
    """HeadObject (does a key exist, when was it written)."""
    s3_put: int = 0
    """PutObject, conditional or not (a conditional put that loses is billed too)."""
    s3_list: int = 0
    """ListObjectsV2 pages of up to 1,000 keys."""
    s3_delete: int = 0
    """DeleteObjects of up to 1,000 keys (S3 does not charge for deletes)."""
    sqs_send: int = 0
    """SendMessage and SendMessageBatch, one per 64 KiB of a batch's bodies."""
    sqs_receive: int = 0
    """ReceiveMessage calls that returned messages (empty polls are idle, not work)."""
    sqs_delete: int = 0
    """DeleteMessage: a message acknowledged (or moved to its dead-letter queue)."""
    sqs_change_visibility: int = 0
    """ChangeMessageVisibility: heartbeats, retries, releases."""

    @property
    def s3_writes(self) -> int:
        """S3's dearer tier: PUT, COPY, POST and LIST."""
        return self.s3_put + self.s3_list

    @property
    def s3_reads(self) -> int:
        """S3's cheaper tier: GET and every other request but DELETE."""
        return self.s3_get + self.s3_head

    @property
    def sqs(self) -> int:
        return self.sqs_send + self.sqs_receive + self.sqs_delete + self.sqs_change_visibility

    def __add__(self, other: Requests) -> Requests:
        return Requests(**{n: getattr(self, n) + getattr(other, n) for n in Requests.model_fields})


class Usage(BaseModel):
    """What some work used: worker time, requests and bytes moved to and from the stores."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    worker_seconds: float = 0.0
    """Seconds worker processes held jobs (from receiving each to reporting its result)."""
    vcpu_seconds: float = 0.0
    """`worker_seconds` × the vCPUs of each worker process (its share of its Fargate task)."""
    gb_seconds: float = 0.0
    """`worker_seconds` × the GB (GiB) of memory of each worker process."""
    requests: Requests = Requests()
    bytes_read: int = 0
    """Bytes read from the stores (S3 GetObject bodies, or the files standing in for them)."""
    bytes_written: int = 0
    """Bytes written to the stores, intermediate objects included."""
    bytes_kept: int = 0
    """Bytes of the outputs written (pair files, summary): what stays stored after the run;
    the work objects under `runs/` expire."""

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            worker_seconds=round(self.worker_seconds + other.worker_seconds, 4),
            vcpu_seconds=round(self.vcpu_seconds + other.vcpu_seconds, 4),
            gb_seconds=round(self.gb_seconds + other.gb_seconds, 4),
            requests=self.requests + other.requests,
            bytes_read=self.bytes_read + other.bytes_read,
            bytes_written=self.bytes_written + other.bytes_written,
            bytes_kept=self.bytes_kept + other.bytes_kept,
        )


NO_USAGE = Usage()


def total(usages: list[Usage]) -> Usage:
    return sum(usages, Usage())


class RunUsage(BaseModel):
    """A run's usage by role. The dispatcher's and collector's are their requests and bytes
    (Lambda time is not priced); the workers' add the time they held jobs."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    workers: Usage = Usage()
    """Every job's, as its worker reported it in its result."""
    dispatcher: Usage = Usage()
    collector: Usage = Usage()
    """What the collectors recorded with each pair's status, and the last one's until the
    summary."""

    @property
    def total(self) -> Usage:
        return self.workers + self.dispatcher + self.collector


Positive = Annotated[float, Field(gt=0)]


class WorkerSize(BaseModel):
    """One worker process's share of its Fargate task: the task's vCPUs and memory over its
    processes (terraform's default task: 1 vCPU, 4 GB, one process)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    vcpu: Positive = 1.0
    memory_gb: Positive = 4.0
    """GB as Fargate counts them: the task's MiB / 1024."""

    def held(self, seconds: float) -> Usage:
        """The usage of holding a job `seconds`."""
        return Usage(
            worker_seconds=round(seconds, 4),
            vcpu_seconds=round(seconds * self.vcpu, 4),
            gb_seconds=round(seconds * self.memory_gb, 4),
        )


Price = Annotated[float, Field(ge=0)]


class Prices(BaseModel):
    """AWS prices in US dollars, by default the 2025 us-east-1 list prices (Linux/x86 Fargate,
    SQS standard queues beyond the free tier, S3 Standard). Fargate Spot's price varies by
    region and over time (about 70 % below on-demand); set the ones you pay."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)
    fargate_vcpu_hour_usd: Price = 0.04048
    fargate_gb_hour_usd: Price = 0.004445
    """Per GB (GiB) of task memory and hour."""
    fargate_spot_vcpu_hour_usd: Price = 0.01334058
    fargate_spot_gb_hour_usd: Price = 0.00146489
    fargate_spot_share: Annotated[float, Field(ge=0, le=1)] = 1.0
    """Share of worker time on Fargate Spot: terraform's `spot_percentage` / 100 (default 100)."""
    sqs_million_requests_usd: Price = 0.40
    s3_thousand_writes_usd: Price = 0.005
    """Per 1,000 PUT, COPY, POST and LIST requests."""
    s3_thousand_reads_usd: Price = 0.0004
    """Per 1,000 GET and other requests (DELETE is free)."""
    s3_gb_month_usd: Price = 0.023
    """Per GB (GiB) stored for a month."""


class Cost(BaseModel):
    """A run's estimated AWS bill in US dollars."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    workers_usd: float
    """Fargate vCPU and memory for the time workers held jobs (idle task time is not a run's)."""
    sqs_usd: float
    s3_requests_usd: float
    total_usd: float
    """Workers, SQS and S3 requests."""
    storage_usd_per_month: float
    """Keeping the outputs written (`bytes_kept`) in S3 Standard, per month, on top."""


def estimate_cost(usage: Usage, prices: Prices) -> Cost:
    """What `usage` costs at `prices`; Spot and on-demand worker time in `fargate_spot_share`."""
    spot = prices.fargate_spot_share
    vcpu_hour = spot * prices.fargate_spot_vcpu_hour_usd + (1 - spot) * prices.fargate_vcpu_hour_usd
    gb_hour = spot * prices.fargate_spot_gb_hour_usd + (1 - spot) * prices.fargate_gb_hour_usd
    workers = (usage.vcpu_seconds * vcpu_hour + usage.gb_seconds * gb_hour) / SECONDS_PER_HOUR
    requests = usage.requests
    sqs = requests.sqs * prices.sqs_million_requests_usd / 1e6
    s3 = (
        requests.s3_writes * prices.s3_thousand_writes_usd
        + requests.s3_reads * prices.s3_thousand_reads_usd
    ) / 1000
    return Cost(
        workers_usd=workers,
        sqs_usd=sqs,
        s3_requests_usd=s3,
        total_usd=workers + sqs + s3,
        storage_usd_per_month=usage.bytes_kept / GIB_BYTES * prices.s3_gb_month_usd,
    )


def describe_cost(usage: Usage, cost: Cost) -> str:
    """One line for `pivfleet run` and `pivfleet status`."""
    requests = usage.requests
    return (
        f"cost: {usage.worker_seconds:.1f} worker-s ({usage.vcpu_seconds:.1f} vCPU-s, "
        f"{usage.gb_seconds:.1f} GB-s), {requests.s3_writes + requests.s3_reads:,} S3 and "
        f"{requests.sqs:,} SQS requests, {usage.bytes_read / 2**20:,.1f} MiB read, "
        f"{usage.bytes_written / 2**20:,.1f} MiB written; about {dollars(cost.total_usd)} on AWS "
        f"(+ {dollars(cost.storage_usd_per_month)} a month to keep the outputs)"
    )


def dollars(amount: float) -> str:
    """Cents for a dollar or more, three significant digits below (a run's requests cost
    millionths), never in scientific notation."""
    digits = 2 if amount <= 0 else max(2, 2 - math.floor(math.log10(amount)))
    return f"${amount:,.{digits}f}"


def sqs_send_requests(bodies: list[str]) -> int:
    """Billed requests of sending `bodies` in batches of ten, each 64 KiB of a batch one."""
    step = SQS_MAX_BATCH_MESSAGES
    batches = [bodies[i : i + step] for i in range(0, len(bodies), step)]
    sizes = [sum(len(body.encode()) for body in batch) for batch in batches]
    return sum(max(1, math.ceil(size / SQS_BILLED_CHUNK_BYTES)) for size in sizes)


def s3_list_requests(keys: int) -> int:
    """Pages of a listing that returned `keys` keys (an empty listing is one request)."""
    return max(1, math.ceil(keys / S3_LIST_PAGE_KEYS))


def s3_delete_requests(keys: int) -> int:
    return math.ceil(keys / S3_DELETE_BATCH_KEYS)
