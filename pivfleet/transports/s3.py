"""An S3 bucket behind the BlobStore port."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from pivfleet.transports.aws_errors import MISSING_OBJECT_CODES, error_code

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import GetObjectOutputTypeDef, ObjectIdentifierTypeDef

PUT_CONFLICT_CODES = frozenset({"PreconditionFailed", "ConditionalRequestConflict"})
S3_MAX_DELETE_KEYS = 1000
"""DeleteObjects takes at most this many keys."""


class S3BlobStore:
    def __init__(self, s3: S3Client, bucket: str) -> None:
        self.s3, self.bucket = s3, bucket

    def get(self, key: str) -> bytes:
        return bytes(self._object(key)["Body"].read())

    def get_range(self, key: str, start: int, length: int) -> bytes:
        response = self._object(key, Range=f"bytes={start}-{start + length - 1}")
        return bytes(response["Body"].read())

    def _object(self, key: str, **request: str) -> GetObjectOutputTypeDef:
        """GetObject's response; KeyError when the key does not exist."""
        try:
            # `request` is only Range here; the stubs type each keyword on its own.
            return self.s3.get_object(Bucket=self.bucket, Key=key, **request)  # type: ignore[arg-type]
        except ClientError as error:
            if error_code(error) in MISSING_OBJECT_CODES:
                raise KeyError(f"s3://{self.bucket}/{key}") from None
            raise

    def put(self, key: str, data: bytes) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=data)

    def put_file(self, key: str, path: Path) -> None:
        self.s3.upload_file(str(path), self.bucket, key)  # boto3's transfer: multipart when big

    def put_if_absent(self, key: str, data: bytes) -> bool:
        try:
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=data, IfNoneMatch="*")
        except ClientError as error:
            if error_code(error) in PUT_CONFLICT_CODES:
                return False
            raise
        return True

    def get_tagged(self, key: str) -> tuple[bytes, str]:
        response = self._object(key)
        return bytes(response["Body"].read()), str(response["ETag"])

    def put_if_tagged(self, key: str, data: bytes, tag: str | None) -> bool:
        if tag is None:
            return self.put_if_absent(key, data)
        try:
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=data, IfMatch=tag)
        except ClientError as error:
            if error_code(error) in PUT_CONFLICT_CODES | MISSING_OBJECT_CODES:
                return False  # changed, or removed, since `tag` was read
            raise
        return True

    def exists(self, key: str) -> bool:
        try:
            self.s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if error_code(error) in MISSING_OBJECT_CODES:
                return False
            raise
        return True

    def delete(self, keys: list[str]) -> None:
        for start in range(0, len(keys), S3_MAX_DELETE_KEYS):
            batch: list[ObjectIdentifierTypeDef] = [
                {"Key": key} for key in keys[start : start + S3_MAX_DELETE_KEYS]
            ]
            response = self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": batch})
            if response.get("Errors"):
                raise RuntimeError(
                    f"s3://{self.bucket}: DeleteObjects failed: {response['Errors']}"
                )

    def newest(self, prefix: str) -> float | None:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        times = [
            item["LastModified"].timestamp() for page in pages for item in page.get("Contents", [])
        ]
        return max(times, default=None)

    def size(self, key: str) -> int:
        try:
            return self.s3.head_object(Bucket=self.bucket, Key=key)["ContentLength"]
        except ClientError as error:
            if error_code(error) in MISSING_OBJECT_CODES:
                raise KeyError(f"s3://{self.bucket}/{key}") from None
            raise

    def modified(self, key: str) -> float | None:
        try:
            return self.s3.head_object(Bucket=self.bucket, Key=key)["LastModified"].timestamp()
        except ClientError as error:
            if error_code(error) in MISSING_OBJECT_CODES:
                return None
            raise

    def folders(self, prefix: str) -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix, Delimiter="/"
        )
        found = (p["Prefix"] for page in pages for p in page.get("CommonPrefixes", []))
        return sorted(name.removeprefix(prefix).rstrip("/") for name in found)

    def list(self, prefix: str) -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))
