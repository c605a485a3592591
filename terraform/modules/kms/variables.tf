variable "name_prefix" {
  type        = string
  description = "Prefix of every resource name (lowercase letters, digits and '-', 2-20 characters). Log groups /aws/lambda/<prefix>-* and /<prefix>/* may use the key."
}

variable "deletion_window_in_days" {
  type        = number
  description = "Days (7-30) a scheduled key deletion waits before the key is destroyed."
  default     = 7

  validation {
    condition     = var.deletion_window_in_days >= 7 && var.deletion_window_in_days <= 30
    error_message = "deletion_window_in_days must be between 7 and 30."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags added to the key (the provider's default_tags apply as well)."
  default     = {}
}
