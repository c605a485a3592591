output "name" {
  description = "Queue name."
  value       = aws_sqs_queue.this.name
}

output "arn" {
  description = "Queue ARN (available once the queue policy is in place, so S3 notifications can be configured against it)."
  value       = aws_sqs_queue.this.arn
  depends_on  = [aws_sqs_queue_policy.this]
}

output "url" {
  description = "Queue URL."
  value       = aws_sqs_queue.this.url
}

output "dlq_name" {
  description = "Dead-letter queue name."
  value       = aws_sqs_queue.dlq.name
}

output "dlq_arn" {
  description = "Dead-letter queue ARN."
  value       = aws_sqs_queue.dlq.arn
}

output "dlq_url" {
  description = "Dead-letter queue URL."
  value       = aws_sqs_queue.dlq.url
}
