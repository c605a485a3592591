# pivfleet on AWS. This root only composes the modules under modules/; see README.md.
#
#   S3 input --run.json--> SQS uploads --> Lambda dispatcher --> SQS jobs-<algorithm>
#   --> ECS Fargate workers (one service per algorithm) --> SQS results --> Lambda collector
#   --> S3 output

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  ecr_image_pattern = "^([0-9]{12})\\.dkr\\.ecr\\.([a-z0-9-]+)\\.amazonaws\\.com/([^:@]+)"

  lambda_image = coalesce(var.lambda_image_uri, "${module.registry.repository_urls["lambda"]}:${var.image_tag}")

  worker_images = {
    for name, algorithm in var.algorithms :
    name => coalesce(algorithm.image, "${module.registry.repository_urls["worker"]}:${var.image_tag}")
  }
  worker_repository_arns = {
    for name, algorithm in var.algorithms :
    name => algorithm.image == null ? module.registry.repository_arns["worker"] : format(
      "arn:%s:ecr:%s:%s:repository/%s",
      data.aws_partition.current.partition,
      regex(local.ecr_image_pattern, algorithm.image)[1],
      regex(local.ecr_image_pattern, algorithm.image)[0],
      regex(local.ecr_image_pattern, algorithm.image)[2],
    )
  }

  function_environment = {
    PIVFLEET_NAME_PREFIX   = var.name_prefix
    PIVFLEET_INPUT_BUCKET  = module.storage.input_bucket_name
    PIVFLEET_OUTPUT_BUCKET = module.storage.output_bucket_name
  }

  worker_task_role_arns = [for name in keys(var.algorithms) : module.workers[name].task_role_arn]
}

module "kms" {
  source = "./modules/kms"

  name_prefix = var.name_prefix
}

module "network" {
  source = "./modules/network"

  name_prefix                = var.name_prefix
  vpc_id                     = var.vpc_id
  subnet_ids                 = var.subnet_ids
  vpc_cidr                   = var.vpc_cidr
  az_count                   = var.az_count
  create_interface_endpoints = var.create_interface_endpoints
}

module "registry" {
  source = "./modules/registry"

  repositories = {
    worker = "${var.name_prefix}-worker"
    lambda = "${var.name_prefix}-dispatcher"
  }
  lambda_repositories    = ["lambda"]
  lambda_function_prefix = "${var.name_prefix}-"
  force_delete           = var.force_destroy
}

module "storage" {
  source = "./modules/storage"

  input_bucket_name       = local.input_bucket_name
  output_bucket_name      = local.output_bucket_name
  kms_key_arn             = module.kms.key_arn
  uploads_queue_arn       = module.uploads_queue.arn
  run_spec_filename       = local.run_spec_filename
  tile_result_prefix      = local.tile_result_prefix
  tile_result_expiry_days = var.tile_result_expiry_days
  force_destroy           = var.force_destroy
  algorithm_specs = {
    for name, algorithm in var.algorithms :
    "${local.algorithm_specs_prefix}${name}.cwl.json" => jsonencode(yamldecode(file(algorithm.spec)))
    if algorithm.spec != null
  }
}

# --- Queues -------------------------------------------------------------------------------------

module "uploads_queue" {
  source = "./modules/queue"

  name                          = local.uploads_queue_name
  visibility_timeout_seconds    = local.upload_visibility_timeout_seconds
  max_receive_count             = local.max_receive_count
  message_retention_seconds     = local.message_retention_seconds
  dlq_message_retention_seconds = local.dlq_retention_seconds
  consumer_role_arns            = [module.dispatcher.role_arn]
  s3_source_bucket_arn          = module.storage.input_bucket_arn
}

module "job_queues" {
  source   = "./modules/queue"
  for_each = var.algorithms

  name                          = local.job_queue_names[each.key]
  visibility_timeout_seconds    = local.job_visibility_timeout_seconds
  max_receive_count             = local.max_receive_count
  message_retention_seconds     = local.message_retention_seconds
  dlq_message_retention_seconds = local.dlq_retention_seconds
  producer_role_arns            = [module.dispatcher.role_arn, module.collector.role_arn]
  consumer_role_arns            = [module.workers[each.key].task_role_arn]
}

module "results_queue" {
  source = "./modules/queue"

  name                          = local.results_queue_name
  visibility_timeout_seconds    = local.result_visibility_timeout_seconds
  max_receive_count             = local.max_receive_count
  message_retention_seconds     = local.message_retention_seconds
  dlq_message_retention_seconds = local.dlq_retention_seconds
  producer_role_arns            = concat([module.dispatcher.role_arn], local.worker_task_role_arns)
  consumer_role_arns            = [module.collector.role_arn]
}

# --- Lambda functions (one image, two handlers) -------------------------------------------------

module "dispatcher" {
  source = "./modules/function"

  name                 = "${var.name_prefix}-dispatcher"
  description          = "pivfleet dispatcher: run.json -> tile jobs"
  image_uri            = local.lambda_image
  command              = ["dispatcher.handler.handle"]
  architecture         = var.lambda_architecture
  timeout_seconds      = var.dispatcher_timeout_seconds
  memory_mb            = var.dispatcher_memory_mb
  reserved_concurrency = var.dispatcher_reserved_concurrency
  batch_size           = 1
  environment          = local.function_environment
  source_queue_arn     = module.uploads_queue.arn
  source_dlq_arn       = module.uploads_queue.dlq_arn
  send_queue_arns      = concat([for q in module.job_queues : q.arn], [module.results_queue.arn])
  read_bucket_arns     = [module.storage.input_bucket_arn, module.storage.output_bucket_arn]
  write_bucket_arns    = [module.storage.output_bucket_arn]
  delete_bucket_arns   = [module.storage.output_bucket_arn]
  kms_key_arn          = module.kms.key_arn
  log_retention_days   = var.log_retention_days
}

module "collector" {
  source = "./modules/function"

  name                            = "${var.name_prefix}-collector"
  description                     = "pivfleet collector: tile results -> stitched outputs"
  image_uri                       = local.lambda_image
  command                         = ["collector.handler.handle"]
  architecture                    = var.lambda_architecture
  timeout_seconds                 = var.collector_timeout_seconds
  memory_mb                       = var.collector_memory_mb
  ephemeral_storage_mb            = var.collector_ephemeral_storage_mb
  reserved_concurrency            = var.collector_reserved_concurrency
  batch_size                      = 10
  maximum_batching_window_seconds = 5
  environment                     = local.function_environment
  source_queue_arn                = module.results_queue.arn
  source_dlq_arn                  = module.results_queue.dlq_arn
  send_queue_arns                 = [for q in module.job_queues : q.arn] # the next pass's jobs
  read_bucket_arns                = [module.storage.output_bucket_arn]
  write_bucket_arns               = [module.storage.output_bucket_arn]
  delete_bucket_arns              = [module.storage.output_bucket_arn]
  kms_key_arn                     = module.kms.key_arn
  log_retention_days              = var.log_retention_days
}

module "reconciler" {
  source = "./modules/function"

  name                 = "${var.name_prefix}-reconciler"
  description          = "pivfleet reconciler: stalled runs found and re-driven"
  image_uri            = local.lambda_image
  command              = ["dispatcher.reconcile.handle"]
  architecture         = var.lambda_architecture
  timeout_seconds      = var.dispatcher_timeout_seconds
  memory_mb            = var.dispatcher_memory_mb
  reserved_concurrency = -1
  schedule_expression  = var.reconcile_schedule
  environment          = local.function_environment
  send_queue_arns      = [for q in module.job_queues : q.arn]
  receive_queue_arns   = [for q in module.job_queues : q.dlq_arn]
  read_bucket_arns     = [module.storage.input_bucket_arn, module.storage.output_bucket_arn]
  write_bucket_arns    = [module.storage.output_bucket_arn]
  delete_bucket_arns   = [module.storage.output_bucket_arn]
  kms_key_arn          = module.kms.key_arn
  log_retention_days   = var.log_retention_days
}

# --- Workers ------------------------------------------------------------------------------------

module "cluster" {
  source = "./modules/cluster"

  name = var.name_prefix
}

module "workers" {
  source   = "./modules/worker_service"
  for_each = var.algorithms

  name                        = "${var.name_prefix}-worker-${each.key}"
  name_prefix                 = var.name_prefix
  algorithm                   = each.key
  image                       = local.worker_images[each.key]
  ecr_repository_arn          = local.worker_repository_arns[each.key]
  cpu                         = each.value.cpu
  memory                      = each.value.memory
  worker_processes            = coalesce(each.value.worker_processes, max(1, floor(each.value.cpu / 1024)))
  command                     = each.value.spec == null ? ["python", "-m", "worker"] : null
  min_workers                 = each.value.min_workers
  max_workers                 = each.value.max_workers
  backlog_per_task_target     = each.value.backlog_per_task_target
  spot_percentage             = var.spot_percentage
  stop_timeout_seconds        = var.worker_stop_timeout_seconds
  scale_to_zero_after_minutes = var.scale_to_zero_after_minutes
  cluster_arn                 = module.cluster.arn
  cluster_name                = module.cluster.name
  subnet_ids                  = module.network.subnet_ids
  security_group_ids          = [module.network.task_security_group_id]
  assign_public_ip            = var.assign_public_ip || module.network.assign_public_ip
  jobs_queue_name             = local.job_queue_names[each.key]
  jobs_queue_arn              = module.job_queues[each.key].arn
  jobs_dlq_arn                = module.job_queues[each.key].dlq_arn
  results_queue_arn           = module.results_queue.arn
  input_bucket_name           = module.storage.input_bucket_name
  input_bucket_arn            = module.storage.input_bucket_arn
  output_bucket_name          = module.storage.output_bucket_name
  output_bucket_arn           = module.storage.output_bucket_arn
  tile_result_prefix          = local.tile_result_prefix
  kms_key_arn                 = module.kms.key_arn
  log_retention_days          = var.log_retention_days
}

# --- Monitoring ---------------------------------------------------------------------------------

module "monitoring" {
  source = "./modules/monitoring"

  name_prefix              = var.name_prefix
  kms_key_arn              = module.kms.key_arn
  alarm_email              = var.alarm_email
  uploads_queue_name       = local.uploads_queue_name
  results_queue_name       = local.results_queue_name
  job_queue_names          = local.job_queue_names
  dlq_names                = [for q in concat([local.uploads_queue_name], values(local.job_queue_names), [local.results_queue_name]) : "${q}-dlq"]
  oldest_job_alarm_seconds = var.oldest_job_alarm_seconds
  cluster_name             = module.cluster.name
  service_names            = { for name in keys(var.algorithms) : name => module.workers[name].service_name }
  function_names           = [module.dispatcher.function_name, module.collector.function_name, module.reconciler.function_name]
}
