"""What the roles measure: CloudWatch embedded-metric fields, and the meter that counts the
requests and bytes of a role's stores and queues.

CloudWatch Logs turns a log line carrying the metric fields into a metric, with no
PutMetricData call (no endpoint needed in private subnets).

The meter wraps the ports, not the transports: one place counts every store and queue, and an
embedded run's folders and in-memory queues count the requests S3 and SQS would bill for the
same calls (`core/cost.py` says how each call is billed)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

from pivfleet.core.cost import (
    RequestName,
    Requests,
    Usage,
    s3_delete_requests,
    s3_list_requests,
    sqs_send_requests,
)
from pivfleet.core.ports import BlobStore, JobQueue, JobSender, Message
from pivfleet.roles.storage import RunStorage

METRIC_NAMESPACE = "pivfleet"


def tile_metric(algorithm: str, seconds: float) -> dict[str, object]:
    """The `TileSeconds` metric of one tile, by algorithm."""
    declaration = {
        "Namespace": METRIC_NAMESPACE,
        "Dimensions": [["algorithm"]],
        "Metrics": [{"Name": "TileSeconds", "Unit": "Seconds"}],
    }
    return {
        "_aws": {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": [declaration]},
        "algorithm": algorithm,
        "TileSeconds": seconds,
    }


class Meter:
    """Requests and bytes counted by the wrappers below; safe across threads (parallel reads,
    the heartbeat beside the work)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def count(
        self,
        request: RequestName | None,
        calls: int = 1,
        read: int = 0,
        written: int = 0,
        kept: int = 0,
    ) -> None:
        with self._lock:
            if request is not None:
                self._counts[request] += calls
            self._counts.update(bytes_read=read, bytes_written=written, bytes_kept=kept)

    def usage(self) -> Usage:
        with self._lock:
            counts = dict(self._counts)
        return as_usage(counts)

    def take(self) -> Usage:
        """What was counted since the last take, which starts the next count."""
        with self._lock:
            counts, self._counts = dict(self._counts), Counter()
        return as_usage(counts)


def as_usage(counts: dict[str, int]) -> Usage:
    amounts = {name: counts.get(name, 0) for name in ("bytes_read", "bytes_written", "bytes_kept")}
    requests = Requests(**{name: counts.get(name, 0) for name in Requests.model_fields})
    return Usage(requests=requests, **amounts)


MULTIPART_CHUNK_BYTES = 8 * 1024 * 1024
"""boto3's transfer default: a larger file is uploaded in 8 MiB parts."""


def upload_requests(size: int) -> int:
    """PUT-priced requests of one `upload_file`: one, or create + parts + complete."""
    if size <= MULTIPART_CHUNK_BYTES:
        return 1
    return -(-size // MULTIPART_CHUNK_BYTES) + 2


class MeteredStore:
    """A BlobStore whose calls are counted as the S3 requests they are (`kept`: the store of
    the run's outputs, whose bytes stay stored). A call that fails is a billed request too."""

    def __init__(self, store: BlobStore, meter: Meter, kept: bool = False) -> None:
        self.store, self.meter, self.kept = store, meter, kept

    def _read(self, data: bytes) -> bytes:
        self.meter.count(None, read=len(data))
        return data

    def _wrote(self, size: int, wrote: bool = True) -> bool:
        written = size if wrote else 0
        self.meter.count(None, written=written, kept=written if self.kept else 0)
        return wrote

    def get(self, key: str) -> bytes:
        self.meter.count("s3_get")
        return self._read(self.store.get(key))

    def get_range(self, key: str, start: int, length: int) -> bytes:
        self.meter.count("s3_get")
        return self._read(self.store.get_range(key, start, length))

    def get_tagged(self, key: str) -> tuple[bytes, str]:
        self.meter.count("s3_get")
        data, tag = self.store.get_tagged(key)
        return self._read(data), tag

    def put(self, key: str, data: bytes) -> None:
        self.meter.count("s3_put")
        self.store.put(key, data)
        self._wrote(len(data))

    def put_file(self, key: str, path: Path) -> None:
        size = path.stat().st_size
        self.meter.count("s3_put", upload_requests(size))
        self.store.put_file(key, path)
        self._wrote(size)

    def put_if_absent(self, key: str, data: bytes) -> bool:
        self.meter.count("s3_put")
        return self._wrote(len(data), self.store.put_if_absent(key, data))

    def put_if_tagged(self, key: str, data: bytes, tag: str | None) -> bool:
        self.meter.count("s3_put")
        return self._wrote(len(data), self.store.put_if_tagged(key, data, tag))

    def exists(self, key: str) -> bool:
        self.meter.count("s3_head")
        return self.store.exists(key)

    def size(self, key: str) -> int:
        self.meter.count("s3_head")
        return self.store.size(key)

    def modified(self, key: str) -> float | None:
        self.meter.count("s3_head")
        return self.store.modified(key)

    def delete(self, keys: list[str]) -> None:
        self.meter.count("s3_delete", s3_delete_requests(len(keys)))
        self.store.delete(keys)

    def newest(self, prefix: str) -> float | None:
        # One page counted: S3 lists every key under the prefix, which this call never sees.
        self.meter.count("s3_list")
        return self.store.newest(prefix)

    def folders(self, prefix: str) -> list[str]:
        found = self.store.folders(prefix)
        self.meter.count("s3_list", s3_list_requests(len(found)))
        return found

    def list(self, prefix: str) -> list[str]:
        keys = self.store.list(prefix)
        self.meter.count("s3_list", s3_list_requests(len(keys)))
        return keys


class MeteredQueue:
    """A JobQueue whose calls are counted as the SQS requests they are. A receive that returns
    nothing is not counted: polling an empty queue is the fleet's idle cost, not a run's."""

    def __init__(self, queue: JobQueue, meter: Meter) -> None:
        self.queue, self.meter = queue, meter
        self.name = queue.name

    def send(self, bodies: list[str], delay_seconds: int = 0) -> None:
        self.queue.send(bodies, delay_seconds)
        self.meter.count("sqs_send", sqs_send_requests(bodies))

    def receive(
        self,
        max_messages: int = 1,
        wait_seconds: float = 0.0,
        visibility_seconds: int | None = None,
    ) -> list[Message]:
        messages = self.queue.receive(max_messages, wait_seconds, visibility_seconds)
        if messages:
            self.meter.count("sqs_receive")
        return messages

    def ack(self, message: Message) -> None:
        self.meter.count("sqs_delete")
        self.queue.ack(message)

    def extend(self, message: Message, seconds: int) -> None:
        self.meter.count("sqs_change_visibility")
        self.queue.extend(message, seconds)

    def retry_later(self, message: Message, delay_seconds: int) -> None:
        self.meter.count("sqs_change_visibility")
        self.queue.retry_later(message, delay_seconds)

    def dead_letter(self, message: Message, reason: str) -> None:
        """SQS: a send to the dead-letter queue, then a delete (in memory: a move)."""
        self.meter.count("sqs_send")
        self.meter.count("sqs_delete")
        self.queue.dead_letter(message, reason)


def metered_sender(send: JobSender, meter: Meter) -> JobSender:
    def counted(algorithm: str, bodies: list[str]) -> None:
        send(algorithm, bodies)
        meter.count("sqs_send", sqs_send_requests(bodies))

    return counted


def metered_storage(storage: RunStorage, meter: Meter) -> RunStorage:
    """The run's stores, counted; what goes to `outputs` is kept."""
    work, outputs = MeteredStore(storage.work, meter), MeteredStore(storage.outputs, meter, True)
    return RunStorage(work, outputs, storage.keys)


def recorded_usage(store: BlobStore, key: str) -> Usage:
    """The usage a role recorded at `key`; none when it recorded none."""
    try:
        return Usage.model_validate_json(store.get(key))
    except KeyError:
        return Usage()
