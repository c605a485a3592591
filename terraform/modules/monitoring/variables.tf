variable "name_prefix" {
  type        = string
  description = "Deployment name prefix; names the topic (<prefix>-alarms) and the dashboard."
}

variable "kms_key_arn" {
  type        = string
  description = "ARN of the KMS key that encrypts the SNS topic (its policy must let cloudwatch.amazonaws.com use it)."
}

variable "alarm_email" {
  type        = string
  description = "E-mail address subscribed to the alarm topic (AWS sends a confirmation mail), or null for none."
  default     = null

  validation {
    condition     = var.alarm_email == null || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.alarm_email))
    error_message = "alarm_email must be an e-mail address or null."
  }
}

variable "uploads_queue_name" {
  type        = string
  description = "Name of the uploads queue."
}

variable "results_queue_name" {
  type        = string
  description = "Name of the results queue."
}

variable "job_queue_names" {
  type        = map(string)
  description = "Jobs queue name by algorithm; each gets an age-of-oldest-job alarm."
}

variable "dlq_names" {
  type        = list(string)
  description = "Dead-letter queue names; each gets a not-empty alarm."
}

variable "oldest_job_alarm_seconds" {
  type        = number
  description = "Alarm when the oldest job of a jobs queue has waited longer than this many seconds (60-1209600)."
  default     = 3600

  validation {
    condition     = var.oldest_job_alarm_seconds >= 60 && var.oldest_job_alarm_seconds <= 1209600
    error_message = "oldest_job_alarm_seconds must be between 60 and 1209600."
  }
}

variable "cluster_name" {
  type        = string
  description = "ECS cluster name (dashboard running-task widget)."
}

variable "service_names" {
  type        = map(string)
  description = "ECS worker service name by algorithm (dashboard running-task widget)."
}

variable "function_names" {
  type        = list(string)
  description = "Lambda function names whose errors the dashboard shows."
  default     = []
}

variable "metric_namespace" {
  type        = string
  description = "CloudWatch namespace of the worker's TileSeconds metric."
  default     = "pivfleet"
}

variable "tags" {
  type        = map(string)
  description = "Tags added to the topic and the alarms."
  default     = {}
}
