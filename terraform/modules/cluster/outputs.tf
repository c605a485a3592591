output "name" {
  description = "Name of the ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "arn" {
  description = "ARN of the ECS cluster (available once its capacity providers are attached)."
  value       = aws_ecs_cluster.this.arn
  depends_on  = [aws_ecs_cluster_capacity_providers.this]
}
