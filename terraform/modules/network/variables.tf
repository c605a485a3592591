variable "name_prefix" {
  type        = string
  description = "Prefix of every resource name (lowercase letters, digits and '-', 2-20 characters)."
}

variable "vpc_id" {
  type        = string
  description = "ID of an existing VPC to run the worker tasks in, or null to create one. An existing VPC must give the subnets a route to S3, SQS, ECR and CloudWatch Logs (NAT or VPC endpoints)."
  default     = null
}

variable "subnet_ids" {
  type        = list(string)
  description = "Subnets of the existing VPC for the worker tasks (at least one; ignored when vpc_id is null)."
  default     = []

  validation {
    condition     = alltrue([for id in var.subnet_ids : can(regex("^subnet-[0-9a-f]+$", id))])
    error_message = "subnet_ids must be subnet IDs (subnet-...)."
  }
}

variable "vpc_cidr" {
  type        = string
  description = "IPv4 CIDR of the created VPC (a /16 to /24; each subnet gets 1/16 of it). Ignored with an existing VPC."
  default     = "10.42.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && try(tonumber(split("/", var.vpc_cidr)[1]) >= 16 && tonumber(split("/", var.vpc_cidr)[1]) <= 24, false)
    error_message = "vpc_cidr must be an IPv4 CIDR between /16 and /24."
  }
}

variable "az_count" {
  type        = number
  description = "Availability zones (1-3) of the created VPC; one subnet and one interface-endpoint ENI per zone. More zones give Fargate Spot more capacity; each zone adds about $7.30 per interface endpoint per month."
  default     = 2

  validation {
    condition     = var.az_count >= 1 && var.az_count <= 3
    error_message = "az_count must be 1, 2 or 3."
  }
}

variable "create_interface_endpoints" {
  type        = bool
  description = "For a created VPC: true makes private subnets with SQS, ECR and Logs interface endpoints (about $7.30 per endpoint per zone per month, no public IPs); false makes public subnets, tasks get a public IP, no endpoint cost."
  default     = true
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every network resource."
  default     = {}
}
