# ridepred as the course's stream pipeline: ride_events (Kinesis) -> the
# Lambda function (container image, custom runtime) -> ride_predictions
# (Kinesis), the model read from the MLflow bucket, discarded batches
# described in an SQS queue.  Optionally (msk_cluster_arn set) the function
# also reads ride events from a topic of an existing Amazon MSK cluster.
# Order of use (docs/deploy.md):
#   terraform apply -target=aws_ecr_repository.ridepred   # the repository first
#   (build and push the image: docs/deploy.md)
#   terraform apply                                        # everything else
#
# The IAM documents are the files of ../iam (one source for Terraform and
# for the aws CLI path), filled in with templatefile().

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  iam_dir    = "${path.module}/../iam"
  tags       = { project = "ridepred", project_id = var.project_id }

  source_stream_name = "${var.source_stream_name}-${var.project_id}"
  output_stream_name = "${var.output_stream_name}-${var.project_id}"
  function_name      = "${var.lambda_function_name}_${var.project_id}"
  function_arn       = "arn:${local.partition}:lambda:${var.aws_region}:${local.account_id}:function:${local.function_name}"
  log_group_name     = "/aws/lambda/${local.function_name}"
  log_group_arn      = "arn:${local.partition}:logs:${var.aws_region}:${local.account_id}:log-group:${local.log_group_name}"
  model_prefix       = var.model_prefix != "" ? trimsuffix(var.model_prefix, "/") : "${var.mlflow_experiment_id}/${var.run_id}/artifacts/model"

  # The optional MSK trigger: on when a cluster is given.  Its consumer
  # group is named here (not left to Lambda's mapping UUID) so that the
  # policy can name the group's ARN.
  msk_enabled        = var.msk_cluster_arn != ""
  msk_consumer_group = local.function_name
  msk_topic_arn      = "${replace(var.msk_cluster_arn, ":cluster/", ":topic/")}/${var.msk_topic}"
  msk_group_arn      = "${replace(var.msk_cluster_arn, ":cluster/", ":group/")}/${local.msk_consumer_group}"

  # A tag ("latest", "v3") or a digest ("sha256:...").
  image_uri = startswith(var.image_tag, "sha256:") ? "${aws_ecr_repository.ridepred.repository_url}@${var.image_tag}" : "${aws_ecr_repository.ridepred.repository_url}:${var.image_tag}"
}

# ---------------------------------------------------------------- streams

resource "aws_kinesis_stream" "ride_events" {
  name             = local.source_stream_name
  shard_count      = var.stream_shard_count
  retention_period = var.stream_retention_hours
  # The AWS managed key: readers and writers need no KMS permission.
  encryption_type = "KMS"
  kms_key_id      = "alias/aws/kinesis"

  stream_mode_details {
    stream_mode = "PROVISIONED"
  }

  tags = local.tags
}

resource "aws_kinesis_stream" "ride_predictions" {
  name             = local.output_stream_name
  shard_count      = var.stream_shard_count
  retention_period = var.stream_retention_hours
  encryption_type  = "KMS"
  kms_key_id       = "alias/aws/kinesis"

  stream_mode_details {
    stream_mode = "PROVISIONED"
  }

  tags = local.tags
}

# ---------------------------------------------------------------- image registry

resource "aws_ecr_repository" "ridepred" {
  name                 = "${var.ecr_repo_name}_${var.project_id}"
  image_tag_mutability = "MUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  tags = local.tags
}

resource "aws_ecr_lifecycle_policy" "ridepred" {
  repository = aws_ecr_repository.ridepred.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "keep the 10 most recent images"
      selection    = { tagStatus = "any", countType = "imageCountMoreThan", countNumber = 10 }
      action       = { type = "expire" }
    }]
  })
}

# Lambda pulls the image for this function only.
resource "aws_ecr_repository_policy" "ridepred" {
  repository = aws_ecr_repository.ridepred.name
  policy = templatefile("${local.iam_dir}/ecr-repository-policy.json", {
    function_arn = local.function_arn
  })
}

# ---------------------------------------------------------------- failures

# The on-failure destination: for a batch dropped after its retries (or too
# old), the mapping sends its shard, sequence-number range and reason here;
# the records themselves stay in ride_events for its retention.
resource "aws_sqs_queue" "failures" {
  name                      = "${var.failure_queue_name}_${var.project_id}"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
  tags                      = local.tags
}

# ---------------------------------------------------------------- IAM

resource "aws_iam_role" "ridepred" {
  name = "iam_${local.function_name}"
  assume_role_policy = templatefile("${local.iam_dir}/lambda-trust-policy.json", {
    account_id = local.account_id
  })
  tags = local.tags
}

resource "aws_iam_role_policy" "read_input_stream" {
  name = "read_input_stream"
  role = aws_iam_role.ridepred.id
  policy = templatefile("${local.iam_dir}/read-input-stream.json", {
    input_stream_arn = aws_kinesis_stream.ride_events.arn
  })
}

resource "aws_iam_role_policy" "write_output_stream" {
  name = "write_output_stream"
  role = aws_iam_role.ridepred.id
  policy = templatefile("${local.iam_dir}/write-output-stream.json", {
    output_stream_arn = aws_kinesis_stream.ride_predictions.arn
  })
}

resource "aws_iam_role_policy" "read_model" {
  name = "read_model"
  role = aws_iam_role.ridepred.id
  policy = templatefile("${local.iam_dir}/read-model.json", {
    partition    = local.partition
    model_bucket = var.model_bucket
    model_prefix = local.model_prefix
  })
}

resource "aws_iam_role_policy" "write_logs" {
  name = "write_logs"
  role = aws_iam_role.ridepred.id
  policy = templatefile("${local.iam_dir}/write-logs.json", {
    log_group_arn = local.log_group_arn
  })
}

resource "aws_iam_role_policy" "send_failures" {
  name = "send_failures"
  role = aws_iam_role.ridepred.id
  policy = templatefile("${local.iam_dir}/send-failures.json", {
    dlq_arn = aws_sqs_queue.failures.arn
  })
}

# What Lambda's MSK event source mapping does with the function's role:
# find the brokers, connect with IAM access control, read the topic, commit
# the group's offsets, and put network interfaces in the cluster's VPC.
resource "aws_iam_role_policy" "read_msk" {
  count = local.msk_enabled ? 1 : 0
  name  = "read_msk"
  role  = aws_iam_role.ridepred.id
  policy = templatefile("${local.iam_dir}/read-msk.json", {
    cluster_arn = var.msk_cluster_arn
    topic_arn   = local.msk_topic_arn
    group_arn   = local.msk_group_arn
  })
}

# ---------------------------------------------------------------- function

resource "aws_cloudwatch_log_group" "ridepred" {
  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  tags              = local.tags
}

resource "aws_lambda_function" "ridepred" {
  function_name = local.function_name
  role          = aws_iam_role.ridepred.arn
  package_type  = "Image"
  image_uri     = local.image_uri
  architectures = [var.architecture]
  memory_size   = var.memory_size
  timeout       = var.timeout

  # docs/handler.md §10.  The model is s3://MODEL_BUCKET/MLFLOW_EXPERIMENT_ID/RUN_ID/artifacts/model,
  # downloaded once per execution environment into /tmp.
  environment {
    variables = {
      PREDICTIONS_STREAM_NAME = aws_kinesis_stream.ride_predictions.name
      MODEL_BUCKET            = var.model_bucket
      RUN_ID                  = var.run_id
      MLFLOW_EXPERIMENT_ID    = var.mlflow_experiment_id
    }
  }

  # Lambda sets AWS_LAMBDA_LOG_FORMAT=JSON and AWS_LAMBDA_LOG_LEVEL from
  # this; ridepred then logs JSON lines at that level.
  logging_config {
    log_format            = "JSON"
    application_log_level = var.log_level
    system_log_level      = "WARN"
    log_group             = aws_cloudwatch_log_group.ridepred.name
  }

  tags = local.tags

  depends_on = [
    aws_iam_role_policy.write_logs,
    aws_iam_role_policy.read_model,
    aws_iam_role_policy.write_output_stream,
    aws_ecr_repository_policy.ridepred,
  ]
}

# The trigger: the mapping polls ride_events and invokes the function with
# Kinesis events; ridepred names records it could not serve or publish in
# batchItemFailures, and only those (and what follows them) are retried.
resource "aws_lambda_event_source_mapping" "ride_events" {
  event_source_arn                   = aws_kinesis_stream.ride_events.arn
  function_name                      = aws_lambda_function.ridepred.arn
  starting_position                  = var.starting_position
  batch_size                         = var.batch_size
  maximum_batching_window_in_seconds = var.maximum_batching_window_in_seconds
  parallelization_factor             = var.parallelization_factor
  maximum_retry_attempts             = var.maximum_retry_attempts
  maximum_record_age_in_seconds      = var.maximum_record_age_in_seconds
  bisect_batch_on_function_error     = var.bisect_batch_on_function_error
  function_response_types            = ["ReportBatchItemFailures"]

  destination_config {
    on_failure {
      destination_arn = aws_sqs_queue.failures.arn
    }
  }

  depends_on = [
    aws_iam_role_policy.read_input_stream,
    aws_iam_role_policy.send_failures,
  ]
}

# The optional MSK trigger: Lambda's Kafka events (docs/handler.md §2) from
# msk_topic; ridepred answers them as the Kinesis ones and names the records
# it could not serve or publish by topic-partition and offset.  Lambda reads
# those only with ReportBatchItemFailures, which Kafka mappings support in
# provisioned mode (provisioned_poller_config): without it a batch whose
# predictions the output stream refused would count as done.
resource "aws_lambda_event_source_mapping" "msk" {
  count                   = local.msk_enabled ? 1 : 0
  event_source_arn        = var.msk_cluster_arn
  function_name           = aws_lambda_function.ridepred.arn
  topics                  = [var.msk_topic]
  starting_position       = var.msk_starting_position
  batch_size              = var.msk_batch_size
  function_response_types = ["ReportBatchItemFailures"]
  # Kafka's default is to retry forever: a ride no retry can serve would
  # hold its partition.  After these retries its records are dropped (each
  # refusal is in the function's log).
  maximum_retry_attempts = var.maximum_retry_attempts

  amazon_managed_kafka_event_source_config {
    consumer_group_id = local.msk_consumer_group
  }

  provisioned_poller_config {
    minimum_pollers = 1
    maximum_pollers = var.msk_maximum_pollers
  }

  depends_on = [aws_iam_role_policy.read_msk]
}
