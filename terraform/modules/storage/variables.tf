variable "input_bucket_name" {
  type        = string
  description = "Globally unique name (3-63 characters, lowercase) of the bucket users upload <run>/images and <run>/run.json to."

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.input_bucket_name))
    error_message = "input_bucket_name must be a valid S3 bucket name of 3-63 characters."
  }
}

variable "output_bucket_name" {
  type        = string
  description = "Globally unique name (3-63 characters, lowercase) of the bucket holding tile results (runs/) and final outputs (<run>/)."

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.output_bucket_name))
    error_message = "output_bucket_name must be a valid S3 bucket name of 3-63 characters."
  }
}

variable "kms_key_arn" {
  type        = string
  description = "ARN of the KMS key that encrypts objects in both buckets (SSE-KMS with bucket keys)."
}

variable "uploads_queue_arn" {
  type        = string
  description = "ARN of the SQS queue notified when a run spec is uploaded; its policy must already let this bucket send."
}

variable "run_spec_filename" {
  type        = string
  description = "Key suffix whose creation starts a run (the run spec file name, e.g. run.json)."
  default     = "run.json"
}

variable "tile_result_prefix" {
  type        = string
  description = "Key prefix of intermediate tile results in the output bucket (e.g. runs/); objects under it expire."
  default     = "runs/"

  validation {
    condition     = length(var.tile_result_prefix) > 0 && endswith(var.tile_result_prefix, "/")
    error_message = "tile_result_prefix must be a non-empty prefix ending with '/', or the lifecycle rule would expire final outputs."
  }
}

variable "tile_result_expiry_days" {
  type        = number
  description = "Days (1-365) after which intermediate tile results expire."

  validation {
    condition     = var.tile_result_expiry_days >= 1 && var.tile_result_expiry_days <= 365
    error_message = "tile_result_expiry_days must be between 1 and 365."
  }
}

variable "force_destroy" {
  type        = bool
  description = "Whether terraform destroy deletes buckets that still hold objects (all results are lost)."
  default     = false
}

variable "tags" {
  type        = map(string)
  description = "Tags added to both buckets."
  default     = {}
}

variable "algorithm_specs" {
  type        = map(string)
  description = "Objects written to the output bucket: key (algorithms/<name>.cwl.json) => a wrapped algorithm's spec as JSON, which the dispatcher reads to cut that algorithm's pairs."
  default     = {}
}
