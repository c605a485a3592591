# A Lambda function from a container image, fed by one SQS queue through an event source mapping
# that reports partial batch failures, with its own execution role.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name
  # Lambda writes to /aws/lambda/<function name>; created here to set retention and encryption.
  log_group_name = "/aws/lambda/${var.name}"
  log_group_arn  = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${local.log_group_name}"
  # The source queue's dead-letter queue takes poison messages straight from the handler.
  send_queue_arns = concat(compact([var.source_dlq_arn]), var.send_queue_arns)
}

data "aws_iam_policy_document" "assume" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = var.name
  description        = "Execution role of the ${var.name} Lambda function"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "this" {
  statement {
    sid       = "WriteOwnLogs"
    effect    = "Allow"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${local.log_group_arn}:*"]
  }

  dynamic "statement" {
    for_each = var.source_queue_arn == null ? [] : [var.source_queue_arn]
    content {
      sid    = "ConsumeSourceQueue"
      effect = "Allow"
      actions = [
        "sqs:ChangeMessageVisibility",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
        "sqs:ReceiveMessage",
      ]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    for_each = length(local.send_queue_arns) > 0 ? [1] : []
    content {
      sid       = "SendToQueues"
      effect    = "Allow"
      actions   = ["sqs:GetQueueUrl", "sqs:GetQueueAttributes", "sqs:SendMessage"]
      resources = local.send_queue_arns
    }
  }

  dynamic "statement" {
    for_each = length(var.receive_queue_arns) > 0 ? [1] : []
    content {
      sid       = "PeekQueues"
      effect    = "Allow"
      actions   = ["sqs:GetQueueUrl", "sqs:GetQueueAttributes", "sqs:ReceiveMessage", "sqs:ChangeMessageVisibility"]
      resources = var.receive_queue_arns
    }
  }

  dynamic "statement" {
    for_each = length(var.read_bucket_arns) > 0 ? [1] : []
    content {
      sid       = "ListBuckets"
      effect    = "Allow"
      actions   = ["s3:ListBucket"]
      resources = var.read_bucket_arns
    }
  }

  dynamic "statement" {
    for_each = length(var.read_bucket_arns) > 0 ? [1] : []
    content {
      sid       = "ReadObjects"
      effect    = "Allow"
      actions   = ["s3:GetObject"]
      resources = [for arn in var.read_bucket_arns : "${arn}/*"]
    }
  }

  dynamic "statement" {
    for_each = length(var.write_bucket_arns) > 0 ? [1] : []
    content {
      sid       = "WriteObjects"
      effect    = "Allow"
      actions   = ["s3:PutObject"]
      resources = [for arn in var.write_bucket_arns : "${arn}/*"]
    }
  }

  dynamic "statement" {
    for_each = length(var.delete_bucket_arns) > 0 ? [1] : []
    content {
      sid       = "DeleteObjects"
      effect    = "Allow"
      actions   = ["s3:DeleteObject"]
      resources = [for arn in var.delete_bucket_arns : "${arn}/*"]
    }
  }

  statement {
    sid       = "UseDataKey"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "this" {
  name   = var.name
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_338:Retention is a variable (default 30 days) to bound cost; raise log_retention_days where a year is required.
  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:The function is invoked only by its SQS event source mapping; failed messages go to the queue's own dead-letter queue, a function DLQ would never be used.
  #checkov:skip=CKV_AWS_117:The function reaches only S3 and SQS public endpoints with IAM auth; in a VPC it would need the interface endpoints or a NAT gateway.
  #checkov:skip=CKV_AWS_173:The environment holds bucket names and a name prefix, no secrets.
  #checkov:skip=CKV_AWS_272:Code signing applies to .zip packages only; this is a container image from an ECR repository with immutable tags and scan on push.
  function_name                  = var.name
  description                    = var.description
  role                           = aws_iam_role.this.arn
  package_type                   = "Image"
  image_uri                      = var.image_uri
  architectures                  = [var.architecture]
  timeout                        = var.timeout_seconds
  memory_size                    = var.memory_mb
  reserved_concurrent_executions = var.reserved_concurrency

  image_config {
    command = var.command
  }

  ephemeral_storage {
    size = var.ephemeral_storage_mb
  }

  environment {
    variables = var.environment
  }

  tracing_config {
    mode = "PassThrough"
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.this.name
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.this]
}

resource "aws_lambda_event_source_mapping" "this" {
  count = var.source_queue_arn == null ? 0 : 1

  event_source_arn                   = var.source_queue_arn
  function_name                      = aws_lambda_function.this.arn
  batch_size                         = var.batch_size
  maximum_batching_window_in_seconds = var.maximum_batching_window_seconds
  function_response_types            = ["ReportBatchItemFailures"]

  dynamic "scaling_config" {
    for_each = var.reserved_concurrency >= 2 ? [var.reserved_concurrency] : []
    content {
      maximum_concurrency = scaling_config.value
    }
  }
}

resource "aws_cloudwatch_event_rule" "schedule" {
  count = var.schedule_expression == null ? 0 : 1

  name                = var.name
  description         = "Invokes ${var.name} on ${var.schedule_expression}"
  schedule_expression = var.schedule_expression
  tags                = var.tags
}

resource "aws_cloudwatch_event_target" "schedule" {
  count = var.schedule_expression == null ? 0 : 1

  rule = aws_cloudwatch_event_rule.schedule[0].name
  arn  = aws_lambda_function.this.arn
}

resource "aws_lambda_permission" "schedule" {
  count = var.schedule_expression == null ? 0 : 1

  statement_id  = "InvokeOnSchedule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.schedule[0].arn
}
