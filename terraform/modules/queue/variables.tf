variable "name" {
  type        = string
  description = "Queue name (1-76 characters: letters, digits, '-' and '_'); the dead-letter queue is <name>-dlq."

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,76}$", var.name))
    error_message = "name must be 1-76 characters of letters, digits, '-' and '_' (80 with the -dlq suffix)."
  }
}

variable "visibility_timeout_seconds" {
  type        = number
  description = "Seconds (0-43200) a received message stays hidden; consumers extend it by heartbeat, Lambda sources need at least 6x the function timeout."

  validation {
    condition     = var.visibility_timeout_seconds >= 0 && var.visibility_timeout_seconds <= 43200
    error_message = "visibility_timeout_seconds must be between 0 and 43200."
  }
}

variable "max_receive_count" {
  type        = number
  description = "Deliveries (1-1000) before SQS moves a message to the dead-letter queue."

  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000
    error_message = "max_receive_count must be between 1 and 1000."
  }
}

variable "message_retention_seconds" {
  type        = number
  description = "Seconds (60-1209600) SQS keeps an unconsumed message."

  validation {
    condition     = var.message_retention_seconds >= 60 && var.message_retention_seconds <= 1209600
    error_message = "message_retention_seconds must be between 60 and 1209600."
  }
}

variable "dlq_message_retention_seconds" {
  type        = number
  description = "Seconds (60-1209600) the dead-letter queue keeps a message; keep it at least message_retention_seconds, since the original enqueue time counts."

  validation {
    condition     = var.dlq_message_retention_seconds >= 60 && var.dlq_message_retention_seconds <= 1209600
    error_message = "dlq_message_retention_seconds must be between 60 and 1209600."
  }
}

variable "receive_wait_time_seconds" {
  type        = number
  description = "Long-poll wait (0-20 seconds) of ReceiveMessage calls that do not set their own."
  default     = 20

  validation {
    condition     = var.receive_wait_time_seconds >= 0 && var.receive_wait_time_seconds <= 20
    error_message = "receive_wait_time_seconds must be between 0 and 20."
  }
}

variable "producer_role_arns" {
  type        = list(string)
  description = "IAM role ARNs the queue policy lets send messages."
  default     = []
}

variable "consumer_role_arns" {
  type        = list(string)
  description = "IAM role ARNs the queue policy lets receive, delete, change visibility and re-send (retry later); they may also send to the dead-letter queue."
  default     = []
}

variable "s3_source_bucket_arn" {
  type        = string
  description = "ARN of the one S3 bucket whose event notifications may send to this queue, or null for none."
  default     = null
}

variable "tags" {
  type        = map(string)
  description = "Tags added to both queues."
  default     = {}
}
