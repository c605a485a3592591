variable "repositories" {
  type        = map(string)
  description = "ECR repositories to create: logical key => repository name (2-256 characters, lowercase, e.g. pivfleet-worker)."

  validation {
    condition     = alltrue([for name in values(var.repositories) : can(regex("^[a-z0-9]+(?:[._/-][a-z0-9]+)*$", name))])
    error_message = "Repository names must be lowercase letters and digits separated by '.', '_', '-' or '/'."
  }
}

variable "lambda_repositories" {
  type        = set(string)
  description = "Keys of var.repositories whose images Lambda functions pull; they get a repository policy for lambda.amazonaws.com."
  default     = []
}

variable "lambda_function_prefix" {
  type        = string
  description = "Only Lambda functions whose names start with this prefix may pull (e.g. 'pivfleet-')."
}

variable "keep_images" {
  type        = number
  description = "Images (1-1000) kept per repository; older ones expire, bounding storage at $0.10 per GB-month."
  default     = 20

  validation {
    condition     = var.keep_images >= 1 && var.keep_images <= 1000
    error_message = "keep_images must be between 1 and 1000."
  }
}

variable "force_delete" {
  type        = bool
  description = "Whether terraform destroy deletes repositories that still hold images."
  default     = false
}

variable "tags" {
  type        = map(string)
  description = "Tags added to the repositories."
  default     = {}
}
