variable "name" {
  type        = string
  description = "Function name (1-64 characters); also the name of its role and log group suffix."

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.name))
    error_message = "name must be 1-64 characters of letters, digits, '-' and '_'."
  }
}

variable "description" {
  type        = string
  description = "Human-readable description of the function (at most 256 characters)."
  default     = ""
}

variable "image_uri" {
  type        = string
  description = "Container image URI in an ECR repository of this account and region (<registry>/<repository>:<tag> or @sha256:...)."
}

variable "command" {
  type        = list(string)
  description = "Handler the image runs, as the image_config command (e.g. [\"dispatcher.handler.handle\"])."
}

variable "architecture" {
  type        = string
  description = "Instruction set of the image: x86_64 or arm64."
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be x86_64 or arm64."
  }
}

variable "timeout_seconds" {
  type        = number
  description = "Function timeout in seconds (1-900); the source queue's visibility timeout must be at least this, AWS advises 6x."

  validation {
    condition     = var.timeout_seconds >= 1 && var.timeout_seconds <= 900
    error_message = "timeout_seconds must be between 1 and 900."
  }
}

variable "memory_mb" {
  type        = number
  description = "Function memory in MB (128-10240); CPU is allocated in proportion."

  validation {
    condition     = var.memory_mb >= 128 && var.memory_mb <= 10240
    error_message = "memory_mb must be between 128 and 10240."
  }
}

variable "ephemeral_storage_mb" {
  type        = number
  description = "Size of the function's /tmp in MB (512-10240); the collector assembles a run's dataset (run.nc) there."
  default     = 512

  validation {
    condition     = var.ephemeral_storage_mb >= 512 && var.ephemeral_storage_mb <= 10240
    error_message = "ephemeral_storage_mb must be between 512 and 10240."
  }
}

variable "reserved_concurrency" {
  type        = number
  description = "Concurrent executions reserved for (and capping) the function, 0-1000, or -1 for no reservation (accounts with the default limit of 10 cannot reserve any). Values of 2 or more also cap the event source's concurrency."

  validation {
    condition     = var.reserved_concurrency >= -1 && var.reserved_concurrency <= 1000
    error_message = "reserved_concurrency must be -1 (unreserved) or between 0 and 1000."
  }
}

variable "environment" {
  type        = map(string)
  description = "Environment variables of the function (no secrets; AWS_* names are reserved by Lambda)."
  default     = {}
}

variable "source_queue_arn" {
  type        = string
  description = "ARN of the SQS queue that triggers the function; null for a function run on schedule_expression instead."
  default     = null
}

variable "source_dlq_arn" {
  type        = string
  description = "ARN of the source queue's dead-letter queue, where the handler sends poison messages at once (with source_queue_arn)."
  default     = null
}

variable "schedule_expression" {
  type        = string
  description = "EventBridge schedule that invokes the function, e.g. \"rate(5 minutes)\" (at least one minute apart); null for none."
  default     = null

  validation {
    condition     = var.schedule_expression == null || can(regex("^(rate|cron)\\(.+\\)$", var.schedule_expression))
    error_message = "schedule_expression must be rate(...) or cron(...)."
  }
}

variable "receive_queue_arns" {
  type        = list(string)
  description = "ARNs of SQS queues the function peeks at and hands back (receive, change visibility), e.g. dead-letter queues a reconciler reads."
  default     = []
}

variable "batch_size" {
  type        = number
  description = "Messages (1-10000) per invocation; above 10 needs a batching window."
  default     = 10

  validation {
    condition     = var.batch_size >= 1 && var.batch_size <= 10000
    error_message = "batch_size must be between 1 and 10000."
  }
}

variable "maximum_batching_window_seconds" {
  type        = number
  description = "Seconds (0-300) the event source waits to fill a batch."
  default     = 0

  validation {
    condition     = var.maximum_batching_window_seconds >= 0 && var.maximum_batching_window_seconds <= 300
    error_message = "maximum_batching_window_seconds must be between 0 and 300."
  }
}

variable "send_queue_arns" {
  type        = list(string)
  description = "ARNs of the SQS queues the function sends to."
  default     = []
}

variable "read_bucket_arns" {
  type        = list(string)
  description = "ARNs of the S3 buckets the function lists and reads objects from."
  default     = []
}

variable "write_bucket_arns" {
  type        = list(string)
  description = "ARNs of the S3 buckets the function writes objects to."
  default     = []
}

variable "delete_bucket_arns" {
  type        = list(string)
  description = "ARNs of the S3 buckets the function deletes objects from (the dispatcher removes a replaced generation's outputs)."
  default     = []
}

variable "kms_key_arn" {
  type        = string
  description = "ARN of the KMS key of the buckets and the log group."
}

variable "log_retention_days" {
  type        = number
  description = "Days CloudWatch keeps the function's logs (one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, ...)."
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, ...)."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags added to the function, its role and its log group."
  default     = {}
}
