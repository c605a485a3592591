variable "name" {
  type        = string
  description = "Service name and task family (1-48 characters); roles are <name>-task and <name>-execution."

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,48}$", var.name))
    error_message = "name must be 1-48 characters of letters, digits, '-' and '_'."
  }
}

variable "name_prefix" {
  type        = string
  description = "Deployment name prefix, passed to the worker as PIVFLEET_NAME_PREFIX and used in the log group /<prefix>/workers/<algorithm>."
}

variable "algorithm" {
  type        = string
  description = "Algorithm this service runs (PIVFLEET_ALGORITHM); its jobs come from <prefix>-jobs-<algorithm>."
}

variable "image" {
  type        = string
  description = "Worker container image URI (in var.ecr_repository_arn's repository)."
}

variable "ecr_repository_arn" {
  type        = string
  description = "ARN of the ECR repository holding the image; the execution role may pull only from it."
}

variable "cpu" {
  type        = number
  description = "Task CPU units (1024 = 1 vCPU): 256, 512, 1024, 2048, 4096, 8192 or 16384; memory must be a Fargate-valid pairing."

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096, 8192, 16384], var.cpu)
    error_message = "cpu must be one of 256, 512, 1024, 2048, 4096, 8192, 16384."
  }
}

variable "memory" {
  type        = number
  description = "Task memory in MiB (512-122880), a Fargate-valid value for the chosen cpu (e.g. 1024 cpu: 2048-8192)."

  validation {
    condition     = var.memory >= 512 && var.memory <= 122880
    error_message = "memory must be between 512 and 122880 MiB."
  }
}

variable "cpu_architecture" {
  type        = string
  description = "CPU architecture of the image: X86_64 or ARM64 (Fargate Spot runs both; prices differ)."
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture must be X86_64 or ARM64."
  }
}

variable "ephemeral_storage_gib" {
  type        = number
  description = "Task ephemeral storage in GiB (21-200); the pair cache and /tmp live there."
  default     = 21

  validation {
    condition     = var.ephemeral_storage_gib >= 21 && var.ephemeral_storage_gib <= 200
    error_message = "ephemeral_storage_gib must be between 21 and 200."
  }
}

variable "worker_processes" {
  type        = number
  description = "Worker processes per task (PIVFLEET_WORKER_PROCESSES), 1-16; usually one per vCPU."
  default     = 1

  validation {
    condition     = var.worker_processes >= 1 && var.worker_processes <= 16
    error_message = "worker_processes must be between 1 and 16."
  }
}

variable "environment" {
  type        = map(string)
  description = "Extra environment variables of the worker container (no secrets); the PIVFLEET_* and AWS_REGION variables are set by this module."
  default     = {}
}

variable "command" {
  type        = list(string)
  description = "The worker container's command: [\"python\", \"-m\", \"worker\"] for the pivfleet worker image and plugin images built FROM it; null for an image `pivfleet wrap` built, whose ENTRYPOINT runs its own runtime's worker."
  default     = ["python", "-m", "worker"]
  nullable    = true
}

variable "stop_timeout_seconds" {
  type        = number
  description = "Seconds (2-120, the Fargate maximum) between SIGTERM and SIGKILL for the worker to finish or release its tile."
  default     = 120

  validation {
    condition     = var.stop_timeout_seconds >= 2 && var.stop_timeout_seconds <= 120
    error_message = "stop_timeout_seconds must be between 2 and 120."
  }
}

variable "min_workers" {
  type        = number
  description = "Fewest tasks (0-1000); 0 lets the service scale to zero when its queue is idle."
  default     = 0

  validation {
    condition     = var.min_workers >= 0 && var.min_workers <= 1000
    error_message = "min_workers must be between 0 and 1000."
  }
}

variable "max_workers" {
  type        = number
  description = "Most tasks (1-1000), which bounds spend: max_workers x task price per hour."

  validation {
    condition     = var.max_workers >= 1 && var.max_workers <= 1000
    error_message = "max_workers must be between 1 and 1000."
  }
}

variable "initial_workers" {
  type        = number
  description = "Tasks (1-100) started at once when jobs arrive and none is running; target tracking takes over from there."
  default     = 1

  validation {
    condition     = var.initial_workers >= 1 && var.initial_workers <= 100
    error_message = "initial_workers must be between 1 and 100."
  }
}

variable "backlog_per_task_target" {
  type        = number
  description = "Visible jobs per running task (> 0) that target tracking holds; about worker_processes x acceptable wait (s) / seconds per job."
  default     = 20

  validation {
    condition     = var.backlog_per_task_target > 0
    error_message = "backlog_per_task_target must be positive."
  }
}

variable "scale_in_cooldown_seconds" {
  type        = number
  description = "Seconds (0-3600) target tracking waits after a scale-in before the next one."
  default     = 300

  validation {
    condition     = var.scale_in_cooldown_seconds >= 0 && var.scale_in_cooldown_seconds <= 3600
    error_message = "scale_in_cooldown_seconds must be between 0 and 3600."
  }
}

variable "scale_to_zero_after_minutes" {
  type        = number
  description = "Minutes (1-60) the jobs queue must have no visible and no in-flight job before the service goes to min_workers."
  default     = 5

  validation {
    condition     = var.scale_to_zero_after_minutes >= 1 && var.scale_to_zero_after_minutes <= 60
    error_message = "scale_to_zero_after_minutes must be between 1 and 60."
  }
}

variable "spot_percentage" {
  type        = number
  description = "Share of tasks (0-100 %) placed on FARGATE_SPOT (about 70 % cheaper, may be reclaimed with 120 s notice); the rest run on FARGATE."
  default     = 100

  validation {
    condition     = var.spot_percentage >= 0 && var.spot_percentage <= 100
    error_message = "spot_percentage must be between 0 and 100."
  }
}

variable "cluster_arn" {
  type        = string
  description = "ARN of the ECS cluster (with FARGATE and FARGATE_SPOT capacity providers)."
}

variable "cluster_name" {
  type        = string
  description = "Name of the ECS cluster (for metric dimensions and the task ARN pattern)."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Subnets the tasks run in (at least one)."

  validation {
    condition     = length(var.subnet_ids) >= 1
    error_message = "subnet_ids needs at least one subnet."
  }
}

variable "security_group_ids" {
  type        = list(string)
  description = "Security groups of the tasks."
}

variable "assign_public_ip" {
  type        = bool
  description = "Whether tasks get a public IP (only for public subnets without VPC endpoints or NAT)."
  default     = false
}

variable "jobs_queue_name" {
  type        = string
  description = "Name of the jobs queue the service consumes and scales on."
}

variable "jobs_queue_arn" {
  type        = string
  description = "ARN of the jobs queue."
}

variable "jobs_dlq_arn" {
  type        = string
  description = "ARN of the jobs queue's dead-letter queue (poison messages are sent there at once)."
}

variable "results_queue_arn" {
  type        = string
  description = "ARN of the results queue the worker sends TileResults to."
}

variable "input_bucket_name" {
  type        = string
  description = "Name of the input bucket (PIVFLEET_INPUT_BUCKET)."
}

variable "input_bucket_arn" {
  type        = string
  description = "ARN of the input bucket (read only)."
}

variable "output_bucket_name" {
  type        = string
  description = "Name of the output bucket (PIVFLEET_OUTPUT_BUCKET)."
}

variable "output_bucket_arn" {
  type        = string
  description = "ARN of the output bucket (tile results are written under tile_result_prefix)."
}

variable "tile_result_prefix" {
  type        = string
  description = "Key prefix (e.g. runs/) under which the worker may write tile results."
  default     = "runs/"
}

variable "kms_key_arn" {
  type        = string
  description = "ARN of the KMS key of the buckets and the log group."
}

variable "metric_namespace" {
  type        = string
  description = "CloudWatch namespace the worker may publish metrics to (e.g. TileSeconds)."
  default     = "pivfleet"
}

variable "log_retention_days" {
  type        = number
  description = "Days CloudWatch keeps the workers' logs (one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, ...)."
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, ...)."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource of the service."
  default     = {}
}
