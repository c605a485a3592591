# ECR repositories for the images `make push` builds: the worker image and the Lambda image
# (dispatcher and collector share it, with different handler commands).

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

resource "aws_ecr_repository" "this" {
  #checkov:skip=CKV_AWS_136:AES-256 server-side encryption is on; a KMS key would add key grants for ECR and Lambda image pulls and the images hold no secrets.
  for_each = var.repositories

  name = each.value
  # Immutable tags: a deployed tag always names the same image; push a new version tag instead.
  image_tag_mutability = "IMMUTABLE"
  force_delete         = var.force_delete

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "AES256"
  }

  tags = var.tags
}

resource "aws_ecr_lifecycle_policy" "this" {
  for_each = var.repositories

  repository = aws_ecr_repository.this[each.key].name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Keep the newest ${var.keep_images} images"
      selection = {
        tagStatus   = "any"
        countType   = "imageCountMoreThan"
        countNumber = var.keep_images
      }
      action = { type = "expire" }
    }]
  })
}

# Lambda pulls container images with the service principal, from functions of this account only.
data "aws_iam_policy_document" "lambda_pull" {
  statement {
    sid    = "LambdaPullsFunctionImages"
    effect = "Allow"
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
    actions = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    condition {
      test     = "StringLike"
      variable = "aws:sourceArn"
      values   = ["arn:${data.aws_partition.current.partition}:lambda:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:function:${var.lambda_function_prefix}*"]
    }
  }
}

resource "aws_ecr_repository_policy" "lambda_pull" {
  for_each = var.lambda_repositories

  repository = aws_ecr_repository.this[each.key].name
  policy     = data.aws_iam_policy_document.lambda_pull.json
}
