"""The dispatcher role: S3 `run.json` notifications → plan → tile jobs on SQS."""
