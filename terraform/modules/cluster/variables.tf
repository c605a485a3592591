variable "name" {
  type        = string
  description = "Cluster name (1-255 characters: letters, digits, '-' and '_')."

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,255}$", var.name))
    error_message = "name must be 1-255 characters of letters, digits, '-' and '_'."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags added to the cluster."
  default     = {}
}
