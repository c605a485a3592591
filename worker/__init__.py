"""The worker role: tile jobs from SQS → tile results in S3 and on the results queue."""
