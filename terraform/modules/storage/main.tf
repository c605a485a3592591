# Two buckets. Input: users upload <run>/<images> and finally <run>/run.json; the run.json
# upload notifies the uploads queue. Output: intermediate tile results under runs/ (expired
# after tile_result_expiry_days) and final outputs under <run>/. Two buckets rather than one with
# prefixes: the roles' policies stay simple (workers only read input), the lifecycle rule cannot
# touch user uploads, and the notification cannot fire on our own writes.

locals {
  buckets = {
    input  = var.input_bucket_name
    output = var.output_bucket_name
  }
}

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_18:Server access logs need a third bucket and cost per request; enable CloudTrail S3 data events if you need an audit trail.
  #checkov:skip=CKV_AWS_144:Cross-region replication doubles storage cost; inputs are the user's copies and outputs can be recomputed from them.
  #checkov:skip=CKV_AWS_21:Versioning would keep every overwritten or expired tile result; final outputs are written put-if-absent (If-None-Match) instead.
  #checkov:skip=CKV2_AWS_61:Both buckets have lifecycle rules (aws_s3_bucket_lifecycle_configuration.input and .output below); checkov cannot follow the for_each keys.
  #checkov:skip=CKV2_AWS_62:Only the input bucket needs an event notification (run.json -> uploads queue); it is configured below.
  for_each = local.buckets

  bucket        = each.value
  force_destroy = var.force_destroy
  tags          = var.tags
}

resource "aws_s3_bucket_public_access_block" "this" {
  for_each = aws_s3_bucket.this

  bucket                  = each.value.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    # One data key per bucket instead of one KMS request per object.
    bucket_key_enabled = true
  }
}

data "aws_iam_policy_document" "tls_only" {
  for_each = aws_s3_bucket.this

  statement {
    sid    = "DenyInsecureTransport"
    effect = "Deny"
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    actions   = ["s3:*"]
    resources = [each.value.arn, "${each.value.arn}/*"]
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  statement {
    sid    = "DenyOutdatedTls"
    effect = "Deny"
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    actions   = ["s3:*"]
    resources = [each.value.arn, "${each.value.arn}/*"]
    condition {
      test     = "NumericLessThan"
      variable = "s3:TlsVersion"
      values   = ["1.2"]
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id
  policy = data.aws_iam_policy_document.tls_only[each.key].json

  depends_on = [aws_s3_bucket_public_access_block.this]
}

resource "aws_s3_bucket_lifecycle_configuration" "input" {
  bucket = aws_s3_bucket.this["input"].id

  rule {
    id     = "abort-incomplete-uploads"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "output" {
  bucket = aws_s3_bucket.this["output"].id

  rule {
    id     = "expire-tile-results"
    status = "Enabled"
    filter {
      prefix = var.tile_result_prefix
    }
    expiration {
      days = var.tile_result_expiry_days
    }
  }

  rule {
    id     = "abort-incomplete-uploads"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

resource "aws_s3_bucket_notification" "run_spec" {
  bucket = aws_s3_bucket.this["input"].id

  queue {
    id            = "run-spec-uploaded"
    queue_arn     = var.uploads_queue_arn
    events        = ["s3:ObjectCreated:*"]
    filter_suffix = var.run_spec_filename
  }
}

# Wrapped algorithms' specs, where the dispatcher finds them (pivfleet bootstrap writes the same
# keys on LocalStack): it cuts a `tiles: whole` program's pairs never, a `halo` one's with its
# haloPixels, without the spec being built into the Lambda image.
resource "aws_s3_object" "algorithm_spec" {
  for_each = var.algorithm_specs

  bucket       = aws_s3_bucket.this["output"].id
  key          = each.key
  content      = each.value
  content_type = "application/json"
  kms_key_id   = var.kms_key_arn
  tags         = var.tags
}
