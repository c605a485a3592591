# One ECS Fargate service of pivfleet workers for one algorithm: task and execution roles, a
# task definition, the service on FARGATE/FARGATE_SPOT, and Application Auto Scaling on the
# backlog of its jobs queue, from zero tasks and back to zero.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id     = data.aws_caller_identity.current.account_id
  partition      = data.aws_partition.current.partition
  region         = data.aws_region.current.name
  log_group_name = "/${var.name_prefix}/workers/${var.algorithm}"
  container_name = "worker"

  environment = merge(var.environment, {
    PIVFLEET_NAME_PREFIX      = var.name_prefix
    PIVFLEET_INPUT_BUCKET     = var.input_bucket_name
    PIVFLEET_OUTPUT_BUCKET    = var.output_bucket_name
    PIVFLEET_ALGORITHM        = var.algorithm
    PIVFLEET_WORKER_PROCESSES = tostring(var.worker_processes)
    # The task's size, which each result's usage is counted in (vCPU- and GB-seconds).
    PIVFLEET_WORKER_VCPU      = tostring(var.cpu / 1024)
    PIVFLEET_WORKER_MEMORY_GB = tostring(var.memory / 1024)
    AWS_REGION                = local.region
    # The worker's own drain deadline, inside the stop timeout with 20 s to spare.
    PIVFLEET_DRAIN_SECONDS = tostring(max(1, var.stop_timeout_seconds - 20))
  })

  resource_id = "service/${var.cluster_name}/${aws_ecs_service.this.name}"
}

# --- Logs ---------------------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_338:Retention is a variable (default 30 days) to bound cost; raise log_retention_days where a year is required.
  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

# --- Roles --------------------------------------------------------------------------------------

data "aws_iam_policy_document" "assume" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:ecs:${local.region}:${local.account_id}:*"]
    }
  }
}

# Execution role: used by the ECS agent to pull the image and ship the container's logs.
resource "aws_iam_role" "execution" {
  name               = "${var.name}-execution"
  description        = "ECS task execution role of ${var.name}: image pull and logs"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid     = "EcrLogin"
    effect  = "Allow"
    actions = ["ecr:GetAuthorizationToken"]
    # AWS requires "*": GetAuthorizationToken is not tied to a repository.
    resources = ["*"]
  }

  statement {
    sid       = "PullWorkerImage"
    effect    = "Allow"
    actions   = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    resources = [var.ecr_repository_arn]
  }

  statement {
    sid       = "ShipLogs"
    effect    = "Allow"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "${var.name}-execution"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

# Task role: what the worker process itself may do.
resource "aws_iam_role" "task" {
  name               = "${var.name}-task"
  description        = "Task role of ${var.name}: consume jobs, read input, write results"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "task" {
  statement {
    sid    = "ConsumeJobs"
    effect = "Allow"
    actions = [
      "sqs:ChangeMessageVisibility",
      "sqs:DeleteMessage",
      "sqs:GetQueueAttributes",
      "sqs:GetQueueUrl",
      "sqs:ReceiveMessage",
      "sqs:SendMessage",
    ]
    resources = [var.jobs_queue_arn]
  }

  statement {
    sid       = "DeadLetterAndReport"
    effect    = "Allow"
    actions   = ["sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage"]
    resources = [var.jobs_dlq_arn, var.results_queue_arn]
  }

  statement {
    sid       = "ListBuckets"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [var.input_bucket_arn, var.output_bucket_arn]
  }

  statement {
    sid       = "ReadPairs"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = ["${var.input_bucket_arn}/*", "${var.output_bucket_arn}/*"]
  }

  statement {
    sid       = "WriteTileResults"
    effect    = "Allow"
    actions   = ["s3:PutObject"]
    resources = ["${var.output_bucket_arn}/${var.tile_result_prefix}*"]
  }

  statement {
    sid       = "UseDataKey"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }

  # Scale-in protection while a tile runs (ECS agent endpoint $ECS_AGENT_URI/task-protection).
  statement {
    sid       = "ProtectOwnTask"
    effect    = "Allow"
    actions   = ["ecs:GetTaskProtection", "ecs:UpdateTaskProtection"]
    resources = ["arn:${local.partition}:ecs:${local.region}:${local.account_id}:task/${var.cluster_name}/*"]
  }

  statement {
    sid     = "PublishTileMetrics"
    effect  = "Allow"
    actions = ["cloudwatch:PutMetricData"]
    # AWS requires "*": PutMetricData has no resource type; the condition pins the namespace.
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = [var.metric_namespace]
    }
  }
}

resource "aws_iam_role_policy" "task" {
  name   = "${var.name}-task"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.task.json
}

# --- Task definition and service ----------------------------------------------------------------

resource "aws_ecs_task_definition" "this" {
  #checkov:skip=CKV_AWS_336:The worker image runs as uid 10001 and writes caches under /tmp; a Fargate bind mount there is root-owned unless the image declares VOLUME /tmp, so the root filesystem stays writable.
  family                   = var.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  ephemeral_storage {
    size_in_gib = var.ephemeral_storage_gib
  }

  container_definitions = jsonencode([merge({
    name                   = local.container_name
    image                  = var.image
    essential              = true
    readonlyRootFilesystem = false
    # Seconds between SIGTERM and SIGKILL: the worker stops receiving and finishes or releases
    # its tile. Fargate allows at most 120; a Spot reclaim gives 120 s of notice.
    stopTimeout = var.stop_timeout_seconds
    environment = [for k in sort(keys(local.environment)) : { name = k, value = local.environment[k] }]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.this.name
        awslogs-region        = local.region
        awslogs-stream-prefix = var.algorithm
      }
    }
  }, var.command == null ? {} : { command = var.command })])

  tags = var.tags
}

resource "aws_ecs_service" "this" {
  name                               = var.name
  cluster                            = var.cluster_arn
  task_definition                    = aws_ecs_task_definition.this.arn
  desired_count                      = var.min_workers
  deployment_minimum_healthy_percent = 0
  deployment_maximum_percent         = 200
  enable_ecs_managed_tags            = true
  propagate_tags                     = "SERVICE"
  wait_for_steady_state              = false

  capacity_provider_strategy {
    capacity_provider = "FARGATE_SPOT"
    weight            = var.spot_percentage
  }

  capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 100 - var.spot_percentage
  }

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = var.security_group_ids
    assign_public_ip = var.assign_public_ip
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  tags = var.tags

  # Application Auto Scaling owns the task count.
  lifecycle {
    ignore_changes = [desired_count]
  }
}

# --- Auto scaling -------------------------------------------------------------------------------

resource "aws_appautoscaling_target" "this" {
  service_namespace  = "ecs"
  scalable_dimension = "ecs:service:DesiredCount"
  resource_id        = local.resource_id
  min_capacity       = var.min_workers
  max_capacity       = var.max_workers
}

# Steady state: keep visible jobs per running task near the target (metric math m1 / m2).
# With no running task m2 is 0 and the quotient has no value, so this policy cannot start the
# first task; scale_out_from_zero does.
resource "aws_appautoscaling_policy" "backlog_per_task" {
  name               = "${var.name}-backlog-per-task"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this.service_namespace
  scalable_dimension = aws_appautoscaling_target.this.scalable_dimension
  resource_id        = aws_appautoscaling_target.this.resource_id

  target_tracking_scaling_policy_configuration {
    target_value       = var.backlog_per_task_target
    scale_out_cooldown = 60
    scale_in_cooldown  = var.scale_in_cooldown_seconds

    customized_metric_specification {
      metrics {
        id          = "m1"
        label       = "visible jobs"
        return_data = false
        metric_stat {
          stat = "Average"
          metric {
            namespace   = "AWS/SQS"
            metric_name = "ApproximateNumberOfMessagesVisible"
            dimensions {
              name  = "QueueName"
              value = var.jobs_queue_name
            }
          }
        }
      }

      metrics {
        id          = "m2"
        label       = "running tasks"
        return_data = false
        metric_stat {
          stat = "Average"
          metric {
            namespace   = "ECS/ContainerInsights"
            metric_name = "RunningTaskCount"
            dimensions {
              name  = "ClusterName"
              value = var.cluster_name
            }
            dimensions {
              name  = "ServiceName"
              value = aws_ecs_service.this.name
            }
          }
        }
      }

      metrics {
        id          = "e1"
        label       = "visible jobs per running task"
        expression  = "m1 / m2"
        return_data = true
      }
    }
  }
}

# 0 -> 1: jobs are waiting and no task is running.
resource "aws_appautoscaling_policy" "scale_out_from_zero" {
  name               = "${var.name}-scale-out-from-zero"
  policy_type        = "StepScaling"
  service_namespace  = aws_appautoscaling_target.this.service_namespace
  scalable_dimension = aws_appautoscaling_target.this.scalable_dimension
  resource_id        = aws_appautoscaling_target.this.resource_id

  step_scaling_policy_configuration {
    adjustment_type         = "ChangeInCapacity"
    cooldown                = 60
    metric_aggregation_type = "Maximum"

    step_adjustment {
      metric_interval_lower_bound = 0
      scaling_adjustment          = var.initial_workers
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "jobs_waiting_no_task" {
  alarm_name          = "${var.name}-jobs-waiting-no-task"
  alarm_description   = "Jobs are visible on ${var.jobs_queue_name} and ${var.name} runs no task: start workers."
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  evaluation_periods  = 1
  datapoints_to_alarm = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_appautoscaling_policy.scale_out_from_zero.arn]

  metric_query {
    id          = "visible"
    return_data = false
    metric {
      namespace   = "AWS/SQS"
      metric_name = "ApproximateNumberOfMessagesVisible"
      period      = 60
      stat        = "Maximum"
      dimensions  = { QueueName = var.jobs_queue_name }
    }
  }

  metric_query {
    id          = "running"
    return_data = false
    metric {
      namespace   = "ECS/ContainerInsights"
      metric_name = "RunningTaskCount"
      period      = 60
      stat        = "Maximum"
      dimensions  = { ClusterName = var.cluster_name, ServiceName = aws_ecs_service.this.name }
    }
  }

  metric_query {
    id          = "start"
    label       = "jobs waiting and no task running"
    expression  = "IF(FILL(visible, 0) > 0 AND FILL(running, 0) == 0, 1, 0)"
    return_data = true
  }

  tags = var.tags
}

# n -> 0: nothing visible and nothing in flight for scale_to_zero_after_minutes.
resource "aws_appautoscaling_policy" "scale_to_zero" {
  name               = "${var.name}-scale-to-zero"
  policy_type        = "StepScaling"
  service_namespace  = aws_appautoscaling_target.this.service_namespace
  scalable_dimension = aws_appautoscaling_target.this.scalable_dimension
  resource_id        = aws_appautoscaling_target.this.resource_id

  step_scaling_policy_configuration {
    adjustment_type         = "ExactCapacity"
    cooldown                = 60
    metric_aggregation_type = "Maximum"

    step_adjustment {
      metric_interval_upper_bound = 0
      scaling_adjustment          = var.min_workers
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "queue_idle" {
  alarm_name          = "${var.name}-queue-idle"
  alarm_description   = "${var.jobs_queue_name} has had no visible or in-flight job for ${var.scale_to_zero_after_minutes} minutes: scale ${var.name} to min_workers."
  comparison_operator = "LessThanOrEqualToThreshold"
  threshold           = 0
  evaluation_periods  = var.scale_to_zero_after_minutes
  datapoints_to_alarm = var.scale_to_zero_after_minutes
  # A queue without traffic stops reporting metrics after a while: that is idle too.
  treat_missing_data = "breaching"
  alarm_actions      = [aws_appautoscaling_policy.scale_to_zero.arn]

  metric_query {
    id          = "visible"
    return_data = false
    metric {
      namespace   = "AWS/SQS"
      metric_name = "ApproximateNumberOfMessagesVisible"
      period      = 60
      stat        = "Maximum"
      dimensions  = { QueueName = var.jobs_queue_name }
    }
  }

  metric_query {
    id          = "in_flight"
    return_data = false
    metric {
      namespace   = "AWS/SQS"
      metric_name = "ApproximateNumberOfMessagesNotVisible"
      period      = 60
      stat        = "Maximum"
      dimensions  = { QueueName = var.jobs_queue_name }
    }
  }

  metric_query {
    id          = "outstanding"
    label       = "visible + in-flight jobs"
    expression  = "FILL(visible, 0) + FILL(in_flight, 0)"
    return_data = true
  }

  tags = var.tags
}
