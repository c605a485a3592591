"""What pivfleet relies on from S3 and SQS, checked against the real LocalStack endpoint.

Plain boto3 only: if one of these fails, the AWS transports cannot work either, and the message
says which contract broke (put-if-absent, redrive, visibility, batch send, event key encoding).
"""

from __future__ import annotations

import json
import time
import urllib.parse
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

pytestmark = pytest.mark.usefixtures("localstack_endpoint")

EVENT_KEY = "my run+1/ü run.json"
# Keys in S3 event notifications are URL-encoded, differently by AWS and by LocalStack 4.13.1:
# AWS encodes form-style (space -> '+'); LocalStack percent-encodes the space as %20. Both encode
# '+' as %2B and UTF-8 as %XX and keep '/'. So the one decoder right for both is unquote_plus;
# plain unquote would turn AWS's '+' into a literal plus and miss the object.
AWS_EVENT_KEY = "my+run%2B1/%C3%BC+run.json"
LOCALSTACK_EVENT_KEY = "my%20run%2B1/%C3%BC%20run.json"


@pytest.fixture
def s3() -> Any:
    return boto3.client("s3")


@pytest.fixture
def sqs() -> Any:
    return boto3.client("sqs")


def make_queue(sqs: Any, name: str, **attributes: str) -> str:
    return str(sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"])


def queue_arn(sqs: Any, url: str) -> str:
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return str(attrs["Attributes"]["QueueArn"])


def receive(sqs: Any, url: str, wait: int = 0, visibility: int | None = None) -> list[Any]:
    extra = {} if visibility is None else {"VisibilityTimeout": visibility}
    resp = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait, AttributeNames=["All"], **extra
    )
    return list(resp.get("Messages", []))


def test_endpoint_is_localstack(localstack_endpoint: str) -> None:
    assert localstack_endpoint.startswith("http://127.0.0.1:")
    assert boto3.client("s3").meta.endpoint_url == localstack_endpoint


def test_put_and_get_object(s3: Any, aws_prefix: str) -> None:
    bucket = f"{aws_prefix}-data"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="runs/a/tiles/p/0.npz", Body=b"\x00tile")

    got = s3.get_object(Bucket=bucket, Key="runs/a/tiles/p/0.npz")

    assert got["Body"].read() == b"\x00tile"


def test_put_if_absent_rejects_second_write(s3: Any, aws_prefix: str) -> None:
    bucket = f"{aws_prefix}-out"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="run/pair.txt", Body=b"first", IfNoneMatch="*")

    with pytest.raises(ClientError) as caught:
        s3.put_object(Bucket=bucket, Key="run/pair.txt", Body=b"second", IfNoneMatch="*")

    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert caught.value.response["Error"]["Code"] == "PreconditionFailed"
    assert s3.get_object(Bucket=bucket, Key="run/pair.txt")["Body"].read() == b"first"


def test_unacked_message_lands_in_dlq_after_max_receives(sqs: Any, aws_prefix: str) -> None:
    dlq = make_queue(sqs, f"{aws_prefix}-jobs-dlq")
    redrive = {"deadLetterTargetArn": queue_arn(sqs, dlq), "maxReceiveCount": "1"}
    jobs = make_queue(sqs, f"{aws_prefix}-jobs", RedrivePolicy=json.dumps(redrive))
    sqs.send_message(QueueUrl=jobs, MessageBody="job-1")
    assert [m["Body"] for m in receive(sqs, jobs, visibility=1)] == ["job-1"]

    # No delete (a crashed worker): once visibility lapses, the next receive exceeds
    # maxReceiveCount and moves it. LocalStack expires visibility on a ~1 s tick, hence the poll.
    dead: list[Any] = []
    deadline = time.monotonic() + 10
    while not dead and time.monotonic() < deadline:
        assert receive(sqs, jobs) == [], "a message over maxReceiveCount was handed out again"
        dead = receive(sqs, dlq, wait=1)

    assert [m["Body"] for m in dead] == ["job-1"]


def test_change_message_visibility_extends_and_releases(sqs: Any, aws_prefix: str) -> None:
    url = make_queue(sqs, f"{aws_prefix}-jobs")
    sqs.send_message(QueueUrl=url, MessageBody="tile")
    (msg,) = receive(sqs, url, visibility=1)

    handle = msg["ReceiptHandle"]

    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=30)
    time.sleep(3)  # well past the original 1 s (LocalStack expires on a ~1 s tick)
    assert receive(sqs, url) == [], "heartbeat did not keep the message hidden"

    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)
    again = receive(sqs, url, wait=2)  # released on SIGTERM: another worker gets it at once
    assert [m["Body"] for m in again] == ["tile"]
    assert again[0]["Attributes"]["ApproximateReceiveCount"] == "2"


def test_send_message_batch_of_ten(sqs: Any, aws_prefix: str) -> None:
    url = make_queue(sqs, f"{aws_prefix}-jobs")
    entries = [{"Id": str(i), "MessageBody": json.dumps({"tile": i})} for i in range(10)]

    resp = sqs.send_message_batch(QueueUrl=url, Entries=entries)

    assert resp.get("Failed", []) == []
    assert sorted(int(r["Id"]) for r in resp["Successful"]) == list(range(10))
    bodies: list[str] = []
    deadline = time.monotonic() + 10
    while len(bodies) < 10 and time.monotonic() < deadline:
        bodies += [m["Body"] for m in receive(sqs, url, wait=1)]
    assert sorted(json.loads(b)["tile"] for b in bodies) == list(range(10))


def _allow_s3_to_send(sqs: Any, url: str, arn: str) -> None:
    """The queue policy real AWS needs before S3 may deliver; LocalStack gets the same setup."""
    statement = {
        "Effect": "Allow",
        "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": arn,
    }
    policy = {"Version": "2012-10-17", "Statement": [statement]}
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})


def _object_created_records(sqs: Any, url: str, timeout_seconds: float = 15) -> list[Any]:
    """S3 event records from the queue, skipping the s3:TestEvent sent on configuration."""
    deadline = time.monotonic() + timeout_seconds
    records: list[Any] = []
    while not records and time.monotonic() < deadline:
        for msg in receive(sqs, url, wait=1):
            records += json.loads(msg["Body"]).get("Records", [])
    return records


def test_s3_event_for_run_json_arrives_with_url_encoded_key(
    s3: Any, sqs: Any, aws_prefix: str, record_property: Any
) -> None:
    bucket = f"{aws_prefix}-input"
    url = make_queue(sqs, f"{aws_prefix}-uploads")
    arn = queue_arn(sqs, url)
    _allow_s3_to_send(sqs, url, arn)
    s3.create_bucket(Bucket=bucket)
    rule = {"Key": {"FilterRules": [{"Name": "suffix", "Value": "run.json"}]}}
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {"QueueArn": arn, "Events": ["s3:ObjectCreated:*"], "Filter": rule}
            ]
        },
    )
    s3.put_object(Bucket=bucket, Key="my run+1/img_0001_a.tif", Body=b"image")  # filtered out
    s3.put_object(Bucket=bucket, Key=EVENT_KEY, Body=b"{}")

    records = _object_created_records(sqs, url)

    keys = [r["s3"]["object"]["key"] for r in records]
    record_property("s3_event_key", keys)
    assert len(records) == 1, f"expected one ObjectCreated record for run.json, got keys {keys}"
    assert records[0]["eventName"].startswith("ObjectCreated:")
    assert records[0]["s3"]["bucket"]["name"] == bucket
    assert keys[0] in {AWS_EVENT_KEY, LOCALSTACK_EVENT_KEY}, f"new key encoding: {keys[0]!r}"
    assert urllib.parse.unquote_plus(keys[0]) == EVENT_KEY


def test_s3_store_compares_and_swaps_and_counts_concurrent_marks(s3: Any, aws_prefix: str) -> None:
    from pivfleet.transports.s3 import S3BlobStore
    from tests.unit.test_tally import check_compare_and_swap, check_concurrent_marks

    bucket = f"{aws_prefix}-cas"
    s3.create_bucket(Bucket=bucket)
    check_compare_and_swap(S3BlobStore(s3, bucket))
    check_concurrent_marks(S3BlobStore(s3, bucket))


def test_s3_store_reads_byte_ranges(s3: Any, aws_prefix: str) -> None:
    from pivfleet.transports.s3 import S3BlobStore
    from tests.unit.test_file_store import check_ranges

    bucket = f"{aws_prefix}-ranges"
    s3.create_bucket(Bucket=bucket)
    check_ranges(S3BlobStore(s3, bucket))
