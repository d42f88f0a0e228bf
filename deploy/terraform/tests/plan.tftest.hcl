# `terraform test` (from deploy/terraform): applies the whole configuration
# to a mocked AWS provider (no account, no network, nothing created) and
# checks every resource's settings.  tests/integration/test_deploy.py runs it when
# terraform and the AWS provider are available offline.

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_resource "aws_kinesis_stream" {
    defaults = { arn = "arn:aws:kinesis:eu-west-1:123456789012:stream/mocked" }
  }
  mock_resource "aws_sqs_queue" {
    defaults = { arn = "arn:aws:sqs:eu-west-1:123456789012:mocked" }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/mocked" }
  }
  mock_resource "aws_ecr_repository" {
    defaults = { repository_url = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/ridepred_stg" }
  }
  mock_resource "aws_lambda_function" {
    defaults = { arn = "arn:aws:lambda:eu-west-1:123456789012:function:ride_duration_prediction_stg" }
  }
}

variables {
  model_bucket = "mlflow-models"
  run_id       = "e1efc53e9bd149078b0c12aeaa6365df"
}

run "plan" {
  # apply against the mocked provider: nothing leaves this machine, and
  # computed values (ARNs, URLs) take the mocked defaults above.
  command = apply

  assert {
    condition     = aws_lambda_function.ridepred.package_type == "Image"
    error_message = "the function is a container image"
  }
  assert {
    condition     = aws_lambda_function.ridepred.image_uri == "123456789012.dkr.ecr.eu-west-1.amazonaws.com/ridepred_stg:latest"
    error_message = "image_uri is the repository URL and the tag"
  }
  assert {
    condition     = aws_lambda_function.ridepred.memory_size == 256 && aws_lambda_function.ridepred.timeout == 60
    error_message = "memory 256 MB, timeout 60 s by default"
  }
  assert {
    condition = aws_lambda_function.ridepred.environment[0].variables == tomap({
      PREDICTIONS_STREAM_NAME = "ride_predictions-stg"
      MODEL_BUCKET            = "mlflow-models"
      RUN_ID                  = "e1efc53e9bd149078b0c12aeaa6365df"
      MLFLOW_EXPERIMENT_ID    = "1"
    })
    error_message = "the environment of docs/handler.md §10"
  }
  assert {
    condition     = aws_lambda_function.ridepred.logging_config[0].log_format == "JSON"
    error_message = "JSON logs"
  }
  assert {
    condition     = aws_kinesis_stream.ride_events.name == "ride_events-stg" && aws_kinesis_stream.ride_predictions.name == "ride_predictions-stg"
    error_message = "stream names"
  }
  assert {
    condition     = tolist(aws_lambda_event_source_mapping.ride_events.function_response_types) == tolist(["ReportBatchItemFailures"])
    error_message = "ReportBatchItemFailures"
  }
  assert {
    condition     = aws_lambda_event_source_mapping.ride_events.bisect_batch_on_function_error && aws_lambda_event_source_mapping.ride_events.maximum_retry_attempts == 3
    error_message = "bisect and 3 retries"
  }
  assert {
    condition     = aws_lambda_event_source_mapping.ride_events.destination_config[0].on_failure[0].destination_arn == "arn:aws:sqs:eu-west-1:123456789012:mocked"
    error_message = "on-failure destination is the queue"
  }
  assert {
    condition     = jsondecode(aws_iam_role_policy.read_model.policy).Statement[0].Resource == "arn:aws:s3:::mlflow-models/1/e1efc53e9bd149078b0c12aeaa6365df/artifacts/model/*"
    error_message = "GetObject on the model prefix only"
  }
  assert {
    condition     = jsondecode(aws_iam_role_policy.write_logs.policy).Statement[0].Resource[0] == "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/ride_duration_prediction_stg"
    error_message = "logs of the function's group only"
  }
  assert {
    condition     = length(aws_lambda_event_source_mapping.msk) == 0 && length(aws_iam_role_policy.read_msk) == 0
    error_message = "no MSK trigger and no MSK policy by default"
  }
  assert {
    condition     = output.msk_event_source_mapping_uuid == null
    error_message = "no MSK mapping to name by default"
  }
}

run "msk" {
  command = apply

  variables {
    msk_cluster_arn       = "arn:aws:kafka:eu-west-1:123456789012:cluster/rides/751d2973-a626-431c-9d4e-d7975eb44dd7-2"
    msk_topic             = "ride_events_kafka"
    msk_batch_size        = 250
    msk_starting_position = "TRIM_HORIZON"
  }

  assert {
    condition     = length(aws_lambda_event_source_mapping.msk) == 1 && length(aws_iam_role_policy.read_msk) == 1
    error_message = "a cluster ARN turns the MSK trigger and its policy on"
  }
  assert {
    condition     = aws_lambda_event_source_mapping.msk[0].event_source_arn == "arn:aws:kafka:eu-west-1:123456789012:cluster/rides/751d2973-a626-431c-9d4e-d7975eb44dd7-2"
    error_message = "the mapping reads the given cluster"
  }
  assert {
    condition     = tolist(aws_lambda_event_source_mapping.msk[0].topics) == tolist(["ride_events_kafka"])
    error_message = "the mapping reads msk_topic"
  }
  assert {
    condition     = aws_lambda_event_source_mapping.msk[0].batch_size == 250 && aws_lambda_event_source_mapping.msk[0].starting_position == "TRIM_HORIZON"
    error_message = "batch size and starting position from the variables"
  }
  assert {
    condition     = tolist(aws_lambda_event_source_mapping.msk[0].function_response_types) == tolist(["ReportBatchItemFailures"])
    error_message = "ridepred's batchItemFailures are read"
  }
  assert {
    condition     = aws_lambda_event_source_mapping.msk[0].provisioned_poller_config[0].minimum_pollers == 1 && aws_lambda_event_source_mapping.msk[0].provisioned_poller_config[0].maximum_pollers == 2
    error_message = "provisioned mode, which partial batch responses of Kafka mappings need"
  }
  assert {
    condition     = aws_lambda_event_source_mapping.msk[0].maximum_retry_attempts == 3
    error_message = "retries bounded (Kafka's default is forever)"
  }
  assert {
    condition     = aws_lambda_event_source_mapping.msk[0].amazon_managed_kafka_event_source_config[0].consumer_group_id == "ride_duration_prediction_stg"
    error_message = "the consumer group the policy names"
  }
  assert {
    condition     = jsondecode(aws_iam_role_policy.read_msk[0].policy).Statement[2].Resource == "arn:aws:kafka:eu-west-1:123456789012:topic/rides/751d2973-a626-431c-9d4e-d7975eb44dd7-2/ride_events_kafka"
    error_message = "ReadData on the topic only"
  }
  assert {
    condition     = jsondecode(aws_iam_role_policy.read_msk[0].policy).Statement[3].Resource == "arn:aws:kafka:eu-west-1:123456789012:group/rides/751d2973-a626-431c-9d4e-d7975eb44dd7-2/ride_duration_prediction_stg"
    error_message = "AlterGroup on the mapping's consumer group only"
  }
  assert {
    condition     = aws_lambda_event_source_mapping.ride_events.event_source_arn == "arn:aws:kinesis:eu-west-1:123456789012:stream/mocked"
    error_message = "the Kinesis trigger stays"
  }
}

run "bad_msk_cluster_arn" {
  command = plan
  variables {
    msk_cluster_arn = "arn:aws:kinesis:eu-west-1:123456789012:stream/ride_events"
  }
  expect_failures = [var.msk_cluster_arn]
}

run "digest_and_prefix" {
  command = apply

  variables {
    image_tag    = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    model_prefix = "models/current/"
    architecture = "arm64"
  }

  assert {
    condition     = endswith(aws_lambda_function.ridepred.image_uri, "/ridepred_stg@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
    error_message = "a digest is referenced with @"
  }
  assert {
    condition     = jsondecode(aws_iam_role_policy.read_model.policy).Statement[1].Condition.StringLike["s3:prefix"] == ["models/current", "models/current/*"]
    error_message = "an explicit model prefix, trailing slash dropped"
  }
  assert {
    condition     = tolist(aws_lambda_function.ridepred.architectures) == tolist(["arm64"])
    error_message = "architecture"
  }
}

run "bad_architecture" {
  command = plan
  variables {
    architecture = "sparc"
  }
  expect_failures = [var.architecture]
}
