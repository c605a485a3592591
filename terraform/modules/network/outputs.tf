output "vpc_id" {
  description = "ID of the VPC the worker tasks run in."
  value       = local.vpc_id
}

output "subnet_ids" {
  description = "Subnets the worker tasks run in."
  value       = local.subnet_ids
}

output "task_security_group_id" {
  description = "Security group of the worker tasks (no ingress, HTTPS egress)."
  value       = aws_security_group.tasks.id
}

output "assign_public_ip" {
  description = "Whether tasks need a public IP to reach AWS APIs (true only for a created VPC without interface endpoints)."
  value       = local.public_subnets
}

output "interface_endpoint_ids" {
  description = "IDs of the interface endpoints, by service (empty when none were created)."
  value       = { for k, v in aws_vpc_endpoint.interface : k => v.id }
}
