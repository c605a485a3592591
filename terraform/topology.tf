# These values mirror pivfleet/core/topology.py, which `pivfleet bootstrap` uses for LocalStack.
# tests/unit/test_terraform_consistency.py parses this file and fails when the two drift apart:
# change both together.

locals {
  # A received tile job stays hidden this long; the worker's heartbeat (every 30 s) extends it.
  job_visibility_timeout_seconds    = 120
  result_visibility_timeout_seconds = 120
  # AWS asks for a Lambda source queue's visibility timeout of six times the function timeout.
  upload_visibility_timeout_seconds = 6 * var.dispatcher_timeout_seconds
  # Deliveries before a message moves to its dead-letter queue: 5 attempts, and one more on
  # which a role reports that every attempt died (killed, out of memory) instead of retrying.
  max_receive_count         = 6
  message_retention_seconds = 345600  # 4 days
  dlq_retention_seconds     = 1209600 # 14 days, the SQS maximum, so failed tiles can be redriven
  run_spec_filename         = "run.json"
  tile_result_prefix        = "runs/"
  # Where bootstrap and this configuration store wrapped algorithms' specs for the dispatcher.
  algorithm_specs_prefix = "algorithms/"

  uploads_queue_name = "${var.name_prefix}-uploads"
  results_queue_name = "${var.name_prefix}-results"
  job_queue_names    = { for algorithm in keys(var.algorithms) : algorithm => "${var.name_prefix}-jobs-${algorithm}" }
  # Bucket names are global: <prefix>-input (as in bootstrap) plus account and region.
  input_bucket_name  = "${var.name_prefix}-input-${data.aws_caller_identity.current.account_id}-${data.aws_region.current.name}"
  output_bucket_name = "${var.name_prefix}-output-${data.aws_caller_identity.current.account_id}-${data.aws_region.current.name}"
}
