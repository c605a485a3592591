# Either an existing VPC (vpc_id + subnet_ids) or a new one:
#   create_interface_endpoints = true  -> private subnets, S3 gateway endpoint and interface
#                                        endpoints for SQS, ECR (api, dkr) and CloudWatch Logs;
#                                        no NAT gateway, no public IPs.
#   create_interface_endpoints = false -> public subnets behind an internet gateway; tasks get a
#                                        public IP (egress only, port 443) and idle cost is ~0.

data "aws_availability_zones" "available" {
  #checkov:skip=CKV_AWS_394:Only the first az_count zones in name order are used (slice below); AWS gives new zones later letters, so they never move the subnets of an existing VPC.
  state = "available"
}

data "aws_region" "current" {}

locals {
  create_vpc     = var.vpc_id == null
  public_subnets = local.create_vpc && !var.create_interface_endpoints
  vpc_id         = local.create_vpc ? aws_vpc.this[0].id : var.vpc_id
  subnet_ids     = local.create_vpc ? aws_subnet.this[*].id : var.subnet_ids
  azs            = slice(data.aws_availability_zones.available.names, 0, var.az_count)

  interface_endpoints = local.create_vpc && var.create_interface_endpoints ? toset(["sqs", "ecr.api", "ecr.dkr", "logs"]) : toset([])
}

resource "aws_vpc" "this" {
  #checkov:skip=CKV2_AWS_11:VPC flow logs cost per GB ingested; the VPC holds only egress-only worker tasks. Enable them in an existing VPC if your account requires it.
  count = local.create_vpc ? 1 : 0

  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true
  tags                 = merge(var.tags, { Name = var.name_prefix })
}

# Take every rule away from the default security group; nothing uses it.
resource "aws_default_security_group" "this" {
  count = local.create_vpc ? 1 : 0

  vpc_id = aws_vpc.this[0].id
  tags   = merge(var.tags, { Name = "${var.name_prefix}-default-unused" })
}

resource "aws_subnet" "this" {
  count = local.create_vpc ? var.az_count : 0

  vpc_id                  = aws_vpc.this[0].id
  availability_zone       = local.azs[count.index]
  cidr_block              = cidrsubnet(var.vpc_cidr, 4, count.index)
  map_public_ip_on_launch = false
  tags = merge(var.tags, {
    Name = "${var.name_prefix}-${local.public_subnets ? "public" : "private"}-${local.azs[count.index]}"
  })
}

resource "aws_route_table" "this" {
  count = local.create_vpc ? 1 : 0

  vpc_id = aws_vpc.this[0].id
  tags   = merge(var.tags, { Name = var.name_prefix })
}

resource "aws_route_table_association" "this" {
  count = local.create_vpc ? var.az_count : 0

  subnet_id      = aws_subnet.this[count.index].id
  route_table_id = aws_route_table.this[0].id
}

resource "aws_internet_gateway" "this" {
  count = local.public_subnets ? 1 : 0

  vpc_id = aws_vpc.this[0].id
  tags   = merge(var.tags, { Name = var.name_prefix })
}

resource "aws_route" "internet" {
  count = local.public_subnets ? 1 : 0

  route_table_id         = aws_route_table.this[0].id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.this[0].id
}

# Free: image layers (ECR stores them in S3) and all bucket traffic stay off the internet.
resource "aws_vpc_endpoint" "s3" {
  count = local.create_vpc ? 1 : 0

  vpc_id            = aws_vpc.this[0].id
  service_name      = "com.amazonaws.${data.aws_region.current.name}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = [aws_route_table.this[0].id]
  tags              = merge(var.tags, { Name = "${var.name_prefix}-s3" })
}

resource "aws_security_group" "endpoints" {
  count = length(local.interface_endpoints) > 0 ? 1 : 0

  name        = "${var.name_prefix}-endpoints"
  description = "HTTPS from the VPC to the interface endpoints"
  vpc_id      = aws_vpc.this[0].id
  tags        = merge(var.tags, { Name = "${var.name_prefix}-endpoints" })
}

resource "aws_vpc_security_group_ingress_rule" "endpoints_https" {
  count = length(local.interface_endpoints) > 0 ? 1 : 0

  security_group_id = aws_security_group.endpoints[0].id
  description       = "HTTPS from tasks in the VPC"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = var.vpc_cidr
}

resource "aws_vpc_endpoint" "interface" {
  for_each = local.interface_endpoints

  vpc_id              = aws_vpc.this[0].id
  service_name        = "com.amazonaws.${data.aws_region.current.name}.${each.key}"
  vpc_endpoint_type   = "Interface"
  private_dns_enabled = true
  subnet_ids          = aws_subnet.this[*].id
  security_group_ids  = [aws_security_group.endpoints[0].id]
  tags                = merge(var.tags, { Name = "${var.name_prefix}-${each.key}" })
}

# Worker tasks: no inbound traffic at all, outbound HTTPS only.
resource "aws_security_group" "tasks" {
  #checkov:skip=CKV2_AWS_5:Attached to the worker ECS services (module worker_service, network_configuration) through this module's task_security_group_id output.
  name        = "${var.name_prefix}-tasks"
  description = "pivfleet worker tasks: no ingress, HTTPS egress to AWS APIs"
  vpc_id      = local.vpc_id
  tags        = merge(var.tags, { Name = "${var.name_prefix}-tasks" })

  lifecycle {
    precondition {
      condition     = var.vpc_id == null || length(var.subnet_ids) > 0
      error_message = "With an existing vpc_id, give at least one of its subnets in subnet_ids."
    }
  }
}

resource "aws_vpc_security_group_egress_rule" "tasks_https" {
  security_group_id = aws_security_group.tasks.id
  description       = "HTTPS to S3, SQS, ECR and CloudWatch Logs (endpoints or public APIs)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}
