"""Reading botocore's ClientError: which AWS error code it carries."""

from __future__ import annotations

from botocore.exceptions import ClientError

MISSING_OBJECT_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
MISSING_QUEUE_CODES = frozenset(
    {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", "NonExistentQueue"}
)


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
