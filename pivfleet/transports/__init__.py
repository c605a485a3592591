"""The ports' implementations: in-memory queue, folder store, S3, SQS, Lambda's SQS events.
Imports core."""
