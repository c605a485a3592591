# Alarms (dead letters, stuck jobs), the SNS topic they notify, and one dashboard.

data "aws_region" "current" {}

locals {
  region = data.aws_region.current.name

  job_queue_names = values(var.job_queue_names)
  all_queue_names = concat([var.uploads_queue_name], local.job_queue_names, [var.results_queue_name])

  queue_metric = { for q in local.all_queue_names : q => ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q] }
}

resource "aws_sns_topic" "alarms" {
  name              = "${var.name_prefix}-alarms"
  kms_master_key_id = var.kms_key_arn
  tags              = var.tags
}

resource "aws_sns_topic_subscription" "email" {
  count = var.alarm_email == null ? 0 : 1

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

resource "aws_cloudwatch_metric_alarm" "dlq_not_empty" {
  for_each = toset(var.dlq_names)

  alarm_name          = "${each.value}-not-empty"
  alarm_description   = "Messages were dead-lettered on ${each.value}. Inspect with `pivfleet dlq`, fix, then redrive."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "oldest_job" {
  for_each = var.job_queue_names

  alarm_name          = "${each.value}-oldest-job"
  alarm_description   = "A job on ${each.value} has waited more than ${var.oldest_job_alarm_seconds} s: workers may be failing to start or max_workers is too low."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = each.value }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.oldest_job_alarm_seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = var.tags
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name_prefix
  dashboard_body = jsonencode({
    widgets = [
      {
        type   = "metric"
        x      = 0
        y      = 0
        width  = 12
        height = 6
        properties = {
          title   = "Backlog (visible messages)"
          region  = local.region
          stat    = "Maximum"
          period  = 60
          view    = "timeSeries"
          metrics = [for q in local.all_queue_names : local.queue_metric[q]]
        }
      },
      {
        type   = "metric"
        x      = 12
        y      = 0
        width  = 12
        height = 6
        properties = {
          title   = "In flight (messages being processed)"
          region  = local.region
          stat    = "Maximum"
          period  = 60
          view    = "timeSeries"
          metrics = [for q in local.all_queue_names : ["AWS/SQS", "ApproximateNumberOfMessagesNotVisible", "QueueName", q]]
        }
      },
      {
        type   = "metric"
        x      = 0
        y      = 6
        width  = 12
        height = 6
        properties = {
          title   = "Running worker tasks"
          region  = local.region
          stat    = "Average"
          period  = 60
          view    = "timeSeries"
          metrics = [for s in values(var.service_names) : ["ECS/ContainerInsights", "RunningTaskCount", "ClusterName", var.cluster_name, "ServiceName", s]]
        }
      },
      {
        type   = "metric"
        x      = 12
        y      = 6
        width  = 12
        height = 6
        properties = {
          title  = "Tile seconds (${var.metric_namespace}/TileSeconds)"
          region = local.region
          period = 300
          view   = "timeSeries"
          metrics = [
            [{ expression = "SEARCH('{${var.metric_namespace}} MetricName=\"TileSeconds\"', 'Sum', 300)", id = "total", label = "sum" }],
            [{ expression = "SEARCH('{${var.metric_namespace}} MetricName=\"TileSeconds\"', 'Average', 300)", id = "mean", label = "mean" }],
          ]
        }
      },
      {
        type   = "metric"
        x      = 0
        y      = 12
        width  = 24
        height = 6
        properties = {
          title  = "Failures: dead letters and function errors"
          region = local.region
          stat   = "Maximum"
          period = 300
          view   = "timeSeries"
          metrics = concat(
            [for q in var.dlq_names : ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q]],
            [for f in var.function_names : ["AWS/Lambda", "Errors", "FunctionName", f, { stat = "Sum" }]],
          )
        }
      },
    ]
  })
}
