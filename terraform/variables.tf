# --- Deployment ---------------------------------------------------------------------------------

variable "region" {
  type        = string
  description = "AWS region to deploy to (e.g. us-east-1). Fargate Spot must be offered there."
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region code such as us-east-1."
  }
}

variable "name_prefix" {
  type        = string
  description = "Prefix of every resource name (2-20 characters: lowercase letters, digits, '-'; starts with a letter). Queues are <prefix>-uploads, <prefix>-jobs-<algorithm>, <prefix>-results, as `pivfleet bootstrap` creates them."
  default     = "pivfleet"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,19}$", var.name_prefix)) && !endswith(var.name_prefix, "-")
    error_message = "name_prefix must be 2-20 characters of lowercase letters, digits and '-', start with a letter and not end with '-'."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource (on top of Project and Deployment)."
  default     = {}
}

variable "force_destroy" {
  type        = bool
  description = "Whether terraform destroy also deletes non-empty buckets (all inputs and results are lost) and ECR repositories that still hold images."
  default     = false
}

# --- Images -------------------------------------------------------------------------------------

variable "image_tag" {
  type        = string
  description = "Tag (1-128 characters) of the images pushed by `make push` to the <prefix>-worker and <prefix>-dispatcher repositories. Tags are immutable: push a new tag for a new build and set it here."
  default     = "0.1.0"

  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.image_tag)) && var.image_tag != "latest"
    error_message = "image_tag must be a Docker tag (1-128 characters of letters, digits, '_', '.', '-') and not 'latest'."
  }
}

variable "lambda_image_uri" {
  type        = string
  description = "Image URI of the dispatcher and collector Lambda functions, or null for <prefix>-dispatcher:<image_tag> in the ECR repository created here. Must be in ECR of this account and region."
  default     = null
}

variable "lambda_architecture" {
  type        = string
  description = "Instruction set of the Lambda image: x86_64 or arm64."
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.lambda_architecture)
    error_message = "lambda_architecture must be x86_64 or arm64."
  }
}

# --- Workers ------------------------------------------------------------------------------------

variable "algorithms" {
  type = map(object({
    image                   = optional(string)
    cpu                     = optional(number, 1024)
    memory                  = optional(number, 4096)
    min_workers             = optional(number, 0)
    max_workers             = optional(number, 10)
    worker_processes        = optional(number)
    backlog_per_task_target = optional(number, 20)
    gpu                     = optional(number, 0)
    spec                    = optional(string)
  }))
  description = <<-EOT
    One worker service and one jobs queue per algorithm name (1-20 characters: lowercase letters,
    digits, '-'). image: worker image URI in ECR of this account and region (null: <prefix>-worker:<image_tag>);
    cpu: task CPU units, 1024 = 1 vCPU (256-16384); memory: task MiB, Fargate-valid for the cpu;
    min_workers / max_workers: task count bounds (0-1000; max bounds spend); worker_processes:
    processes per task (null: one per vCPU); backlog_per_task_target: visible jobs per running task
    that autoscaling holds; gpu: GPUs per task, a count, and only 0: workers run on Fargate, which
    has no GPUs, and this configuration has no EC2 capacity provider (docs/algorithms.md#gpus);
    spec: path of a wrapped executable's algorithm spec (.cwl.yml), stored as JSON in the output
    bucket at algorithms/<name>.cwl.json, where the dispatcher reads its tiles and haloPixels
    (null for the built-in and Python plugins).
  EOT
  default = {
    windef = {
      cpu         = 1024
      memory      = 4096
      min_workers = 0
      max_workers = 10
    }
  }

  validation {
    condition     = length(var.algorithms) >= 1 && alltrue([for name in keys(var.algorithms) : can(regex("^[a-z0-9]([a-z0-9-]{0,18}[a-z0-9])?$", name))])
    error_message = "algorithms needs at least one entry, named by 1-20 lowercase letters, digits and '-' (not at either end)."
  }

  validation {
    condition     = alltrue([for a in values(var.algorithms) : a.min_workers >= 0 && a.min_workers <= a.max_workers && a.max_workers >= 1 && a.max_workers <= 1000])
    error_message = "Each algorithm needs 0 <= min_workers <= max_workers, 1 <= max_workers <= 1000."
  }

  validation {
    condition     = alltrue([for a in values(var.algorithms) : a.image == null || can(regex("^[0-9]{12}\\.dkr\\.ecr\\.[a-z0-9-]+\\.amazonaws\\.com/[^:@]+[:@].+$", a.image))])
    error_message = "An algorithm image must be an ECR image URI with a tag or digest: <account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>."
  }

  validation {
    condition     = alltrue([for a in values(var.algorithms) : a.gpu == 0])
    error_message = "gpu must be 0: workers run on Fargate, which has no GPUs, and this configuration has no EC2 capacity provider. Run a GPU algorithm on your own GPU hosts (pivfleet's worker with PIVFLEET_ALGORITHM set; see docs/algorithms.md#gpus)."
  }
}

variable "spot_percentage" {
  type        = number
  description = "Share of worker tasks (0-100 %) on FARGATE_SPOT, about 70 % cheaper and reclaimable with 120 s notice (the worker drains on SIGTERM); the rest run on FARGATE."
  default     = 100

  validation {
    condition     = var.spot_percentage >= 0 && var.spot_percentage <= 100
    error_message = "spot_percentage must be between 0 and 100."
  }
}

variable "worker_stop_timeout_seconds" {
  type        = number
  description = "Seconds (2-120, the Fargate maximum) between SIGTERM and SIGKILL for a worker to finish or release its tile."
  default     = 120

  validation {
    condition     = var.worker_stop_timeout_seconds >= 2 && var.worker_stop_timeout_seconds <= 120
    error_message = "worker_stop_timeout_seconds must be between 2 and 120."
  }
}

variable "scale_to_zero_after_minutes" {
  type        = number
  description = "Minutes (1-60) a jobs queue must be empty (nothing visible, nothing in flight) before its service scales to min_workers."
  default     = 5

  validation {
    condition     = var.scale_to_zero_after_minutes >= 1 && var.scale_to_zero_after_minutes <= 60
    error_message = "scale_to_zero_after_minutes must be between 1 and 60."
  }
}

# --- Lambda functions ---------------------------------------------------------------------------

variable "dispatcher_timeout_seconds" {
  type        = number
  description = "Dispatcher Lambda timeout in seconds (1-900). The uploads queue's visibility timeout is 6x this value."
  default     = 300

  validation {
    condition     = var.dispatcher_timeout_seconds >= 1 && var.dispatcher_timeout_seconds <= 900
    error_message = "dispatcher_timeout_seconds must be between 1 and 900."
  }
}

variable "dispatcher_memory_mb" {
  type        = number
  description = "Dispatcher Lambda memory in MB (128-10240). It copies each frame of a pass-synchronous pair into strips, one at a time: about 20 bytes per pixel (600 MB for a 29 MP frame)."
  default     = 1024

  validation {
    condition     = var.dispatcher_memory_mb >= 128 && var.dispatcher_memory_mb <= 10240
    error_message = "dispatcher_memory_mb must be between 128 and 10240."
  }
}

variable "dispatcher_reserved_concurrency" {
  type        = number
  description = "Concurrent dispatcher executions reserved and allowed (0-1000), or -1 for no reservation. Accounts whose Lambda concurrency limit is still 10 must use -1."
  default     = 2

  validation {
    condition     = var.dispatcher_reserved_concurrency >= -1 && var.dispatcher_reserved_concurrency <= 1000
    error_message = "dispatcher_reserved_concurrency must be -1 or between 0 and 1000."
  }
}

variable "collector_timeout_seconds" {
  type        = number
  description = "Collector Lambda timeout in seconds (1-120, the results queue's visibility timeout); AWS advises at most 1/6 of it, so keep it at 20 unless stitching needs more."
  default     = 20

  validation {
    condition     = var.collector_timeout_seconds >= 1 && var.collector_timeout_seconds <= 120
    error_message = "collector_timeout_seconds must be between 1 and 120 (the results queue's visibility timeout)."
  }
}

variable "collector_memory_mb" {
  type        = number
  description = "Collector Lambda memory in MB (128-10240); stitching holds one pair's vectors and writes NetCDF and PNG."
  default     = 2048

  validation {
    condition     = var.collector_memory_mb >= 128 && var.collector_memory_mb <= 10240
    error_message = "collector_memory_mb must be between 128 and 10240."
  }
}

variable "collector_ephemeral_storage_mb" {
  type        = number
  description = "Collector Lambda /tmp in MB (512-10240): it assembles each run's run.nc there, about 18 bytes per vector per pair (10 with no calibration); a run larger than this is assembled by `pivfleet results --merged` instead."
  default     = 2048

  validation {
    condition     = var.collector_ephemeral_storage_mb >= 512 && var.collector_ephemeral_storage_mb <= 10240
    error_message = "collector_ephemeral_storage_mb must be between 512 and 10240."
  }
}

variable "reconcile_schedule" {
  type        = string
  description = "How often the reconciler Lambda looks for stalled runs and re-drives them (EventBridge rate or cron expression; a run counts as stalled after 300 s without progress)."
  default     = "rate(5 minutes)"

  validation {
    condition     = can(regex("^(rate|cron)\\(.+\\)$", var.reconcile_schedule))
    error_message = "reconcile_schedule must be rate(...) or cron(...), e.g. rate(5 minutes)."
  }
}

variable "collector_reserved_concurrency" {
  type        = number
  description = "Concurrent collector executions reserved and allowed (0-1000), or -1 for no reservation. Accounts whose Lambda concurrency limit is still 10 must use -1."
  default     = 4

  validation {
    condition     = var.collector_reserved_concurrency >= -1 && var.collector_reserved_concurrency <= 1000
    error_message = "collector_reserved_concurrency must be -1 or between 0 and 1000."
  }
}

# --- Storage ------------------------------------------------------------------------------------

variable "tile_result_expiry_days" {
  type        = number
  description = "Days (1-365) after which intermediate tile results under runs/ in the output bucket expire."
  default     = 7

  validation {
    condition     = var.tile_result_expiry_days >= 1 && var.tile_result_expiry_days <= 365
    error_message = "tile_result_expiry_days must be between 1 and 365."
  }
}

variable "log_retention_days" {
  type        = number
  description = "Days CloudWatch keeps Lambda and worker logs (one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, ...)."
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, ...)."
  }
}

# --- Network ------------------------------------------------------------------------------------

variable "vpc_id" {
  type        = string
  description = "Existing VPC for the worker tasks, or null to create one. An existing VPC must route the subnets to S3, SQS, ECR and CloudWatch Logs (NAT gateway or VPC endpoints)."
  default     = null
}

variable "subnet_ids" {
  type        = list(string)
  description = "Subnets of the existing VPC for the worker tasks (at least one when vpc_id is set; ignored otherwise)."
  default     = []
}

variable "assign_public_ip" {
  type        = bool
  description = "Give worker tasks a public IP. Only for existing public subnets without NAT or endpoints; a created VPC decides this itself (see create_interface_endpoints)."
  default     = false
}

variable "create_interface_endpoints" {
  type        = bool
  description = "For a created VPC: true = private subnets with SQS, ECR (api, dkr) and Logs interface endpoints, no public IPs (about $7.30 per endpoint per zone per month, $58.40 with 2 zones); false = public subnets, tasks get a public IP (egress only), no idle endpoint cost."
  default     = true
}

variable "az_count" {
  type        = number
  description = "Availability zones (1-3) of a created VPC. Each zone adds one subnet and, with interface endpoints, 4 x $7.30 per month."
  default     = 2

  validation {
    condition     = var.az_count >= 1 && var.az_count <= 3
    error_message = "az_count must be 1, 2 or 3."
  }
}

variable "vpc_cidr" {
  type        = string
  description = "IPv4 CIDR (/16 to /24) of a created VPC."
  default     = "10.42.0.0/16"
}

# --- Monitoring ---------------------------------------------------------------------------------

variable "alarm_email" {
  type        = string
  description = "E-mail address that receives the alarms (dead letters, stuck jobs), or null for none. AWS mails a confirmation link first."
  default     = null
}

variable "oldest_job_alarm_seconds" {
  type        = number
  description = "Alarm when a job has waited longer than this many seconds (60-1209600) on a jobs queue."
  default     = 3600

  validation {
    condition     = var.oldest_job_alarm_seconds >= 60 && var.oldest_job_alarm_seconds <= 1209600
    error_message = "oldest_job_alarm_seconds must be between 60 and 1209600."
  }
}
