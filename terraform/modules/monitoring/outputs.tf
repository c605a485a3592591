output "alarm_topic_arn" {
  description = "ARN of the SNS topic the alarms notify; subscribe more endpoints to it."
  value       = aws_sns_topic.alarms.arn
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}

output "dashboard_url" {
  description = "Console URL of the CloudWatch dashboard."
  value       = "https://${local.region}.console.aws.amazon.com/cloudwatch/home?region=${local.region}#dashboards:name=${aws_cloudwatch_dashboard.this.dashboard_name}"
}

output "alarm_names" {
  description = "Names of the monitoring alarms (dead-letter queues and oldest job)."
  value       = concat([for a in aws_cloudwatch_metric_alarm.dlq_not_empty : a.alarm_name], [for a in aws_cloudwatch_metric_alarm.oldest_job : a.alarm_name])
}
