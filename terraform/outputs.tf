output "region" {
  description = "AWS region of the deployment."
  value       = data.aws_region.current.name
}

output "input_bucket" {
  description = "Bucket to upload <run>/images and <run>/run.json to."
  value       = module.storage.input_bucket_name
}

output "output_bucket" {
  description = "Bucket holding results: <run>/ final outputs, runs/ intermediate tile results."
  value       = module.storage.output_bucket_name
}

output "uploads_queue_url" {
  description = "URL of the uploads queue (run.json notifications)."
  value       = module.uploads_queue.url
}

output "job_queue_urls" {
  description = "URL of each algorithm's jobs queue."
  value       = { for name, q in module.job_queues : name => q.url }
}

output "results_queue_url" {
  description = "URL of the results queue."
  value       = module.results_queue.url
}

output "dead_letter_queue_urls" {
  description = "URL of every dead-letter queue, by queue name."
  value = merge(
    { (module.uploads_queue.name) = module.uploads_queue.dlq_url, (module.results_queue.name) = module.results_queue.dlq_url },
    { for q in module.job_queues : q.name => q.dlq_url },
  )
}

output "registry" {
  description = "ECR registry host: `make push REGISTRY=$(terraform output -raw registry)`."
  value       = module.registry.registry
}

output "ecr_repository_urls" {
  description = "ECR repository URLs: worker (worker image) and lambda (dispatcher and collector image)."
  value       = module.registry.repository_urls
}

output "dispatcher_function_name" {
  description = "Name of the dispatcher Lambda function."
  value       = module.dispatcher.function_name
}

output "collector_function_name" {
  description = "Name of the collector Lambda function."
  value       = module.collector.function_name
}

output "reconciler_function_name" {
  description = "Name of the scheduled reconciler Lambda function (stalled runs re-driven)."
  value       = module.reconciler.function_name
}

output "cluster_name" {
  description = "Name of the ECS cluster."
  value       = module.cluster.name
}

output "worker_service_names" {
  description = "ECS service name of each algorithm's workers."
  value       = { for name, w in module.workers : name => w.service_name }
}

output "log_groups" {
  description = "CloudWatch log groups: dispatcher, collector, reconciler and one per algorithm's workers."
  value = merge(
    {
      dispatcher = module.dispatcher.log_group_name,
      collector  = module.collector.log_group_name,
      reconciler = module.reconciler.log_group_name,
    },
    { for name, w in module.workers : "worker-${name}" => w.log_group_name },
  )
}

output "role_arns" {
  description = "IAM roles: dispatcher, collector, reconciler, and per algorithm the worker task and execution roles."
  value = merge(
    {
      dispatcher = module.dispatcher.role_arn,
      collector  = module.collector.role_arn,
      reconciler = module.reconciler.role_arn,
    },
    { for name, w in module.workers : "worker-${name}-task" => w.task_role_arn },
    { for name, w in module.workers : "worker-${name}-execution" => w.execution_role_arn },
  )
}

output "kms_key_arn" {
  description = "KMS key of the buckets, logs and alarm topic (uploaders need kms:GenerateDataKey on it)."
  value       = module.kms.key_arn
}

output "alarm_topic_arn" {
  description = "SNS topic of the alarms."
  value       = module.monitoring.alarm_topic_arn
}

output "dashboard_url" {
  description = "CloudWatch dashboard (backlog, in flight, running tasks, tile seconds, failures)."
  value       = module.monitoring.dashboard_url
}

output "vpc_id" {
  description = "VPC of the worker tasks."
  value       = module.network.vpc_id
}

output "cli_environment" {
  description = "Shell lines that point the pivfleet CLI at this deployment: eval \"$(terraform output -raw cli_environment)\"."
  value       = <<-EOT
    export AWS_REGION=${data.aws_region.current.name}
    export PIVFLEET_NAME_PREFIX=${var.name_prefix}
    export PIVFLEET_INPUT_BUCKET=${module.storage.input_bucket_name}
    export PIVFLEET_OUTPUT_BUCKET=${module.storage.output_bucket_name}
  EOT
}
