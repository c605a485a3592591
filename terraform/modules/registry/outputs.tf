output "repository_urls" {
  description = "Repository URL (<account>.dkr.ecr.<region>.amazonaws.com/<name>) by logical key."
  value       = { for k, r in aws_ecr_repository.this : k => r.repository_url }
}

output "repository_arns" {
  description = "Repository ARN by logical key."
  value       = { for k, r in aws_ecr_repository.this : k => r.arn }
}

output "registry" {
  description = "Registry host for docker login and `make push REGISTRY=...`."
  value       = "${data.aws_caller_identity.current.account_id}.dkr.ecr.${data.aws_region.current.name}.amazonaws.com"
}
