variable "aws_region" {
  description = "AWS region of every resource."
  type        = string
  default     = "eu-west-1"
}

variable "project_id" {
  description = "Suffix of every name (as the course's project_id), e.g. stg or prod."
  type        = string
  default     = "stg"
}

variable "source_stream_name" {
  description = "Input stream (ride events); the name gets -<project_id>."
  type        = string
  default     = "ride_events"
}

variable "output_stream_name" {
  description = "Output stream (predictions; PREDICTIONS_STREAM_NAME); the name gets -<project_id>."
  type        = string
  default     = "ride_predictions"
}

variable "stream_shard_count" {
  description = "Shards of each stream (provisioned mode)."
  type        = number
  default     = 1
}

variable "stream_retention_hours" {
  description = "Retention of each stream, 24 to 8760 hours."
  type        = number
  default     = 24
}

variable "ecr_repo_name" {
  description = "ECR repository of the image; the name gets _<project_id>."
  type        = string
  default     = "ridepred"
}

variable "image_tag" {
  description = "Tag of the image pushed to the repository (docs/deploy.md)."
  type        = string
  default     = "latest"
}

variable "lambda_function_name" {
  description = "Lambda function; the name gets _<project_id>."
  type        = string
  default     = "ride_duration_prediction"
}

variable "architecture" {
  description = "x86_64 or arm64: must match the platform the image was built for."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be x86_64 or arm64."
  }
}

variable "memory_size" {
  description = "Function memory in MB (128 to 256 is plenty: ridepred with the course model uses a few MB; more memory also buys CPU)."
  type        = number
  default     = 256

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240
    error_message = "memory_size must be between 128 and 10240 MB."
  }
}

variable "timeout" {
  description = "Function timeout in seconds (an invocation is one batch of the stream)."
  type        = number
  default     = 60
}

variable "model_bucket" {
  description = "Existing S3 bucket of the MLflow artifacts (MODEL_BUCKET)."
  type        = string
}

variable "mlflow_experiment_id" {
  description = "MLflow experiment of the run (MLFLOW_EXPERIMENT_ID)."
  type        = string
  default     = "1"
}

variable "run_id" {
  description = "MLflow run whose model is served (RUN_ID; also the version in every answer)."
  type        = string
}

variable "model_prefix" {
  description = "Key prefix the function may read; empty: <experiment>/<run_id>/artifacts/model, the one model ridepred loads."
  type        = string
  default     = ""
}

variable "log_level" {
  description = "Application log level (AWS_LAMBDA_LOG_LEVEL): TRACE, DEBUG, INFO, WARN, ERROR or FATAL."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"], var.log_level)
    error_message = "log_level must be one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL."
  }
}

variable "log_retention_days" {
  description = "Retention of the function's log group."
  type        = number
  default     = 14
}

variable "batch_size" {
  description = "Records per invocation at most (event source mapping BatchSize)."
  type        = number
  default     = 100
}

variable "maximum_batching_window_in_seconds" {
  description = "How long the mapping gathers records before invoking (0 to 300)."
  type        = number
  default     = 0
}

variable "starting_position" {
  description = "LATEST or TRIM_HORIZON."
  type        = string
  default     = "LATEST"

  validation {
    condition     = contains(["LATEST", "TRIM_HORIZON"], var.starting_position)
    error_message = "starting_position must be LATEST or TRIM_HORIZON."
  }
}

variable "maximum_retry_attempts" {
  description = "Retries of a failing batch before it goes to the on-failure queue (-1: until the records expire); also the MSK trigger's, after which its records are dropped."
  type        = number
  default     = 3
}

variable "maximum_record_age_in_seconds" {
  description = "Records older than this are sent to the on-failure queue (-1: no limit)."
  type        = number
  default     = 3600
}

variable "bisect_batch_on_function_error" {
  description = "Split a failing batch in two and retry the halves."
  type        = bool
  default     = true
}

variable "parallelization_factor" {
  description = "Concurrent batches per shard (1 to 10)."
  type        = number
  default     = 1
}

variable "failure_queue_name" {
  description = "SQS queue receiving the metadata of discarded batches; the name gets _<project_id>."
  type        = string
  default     = "ride_events_failures"
}

# ---- optional: rides from an Amazon MSK topic (docs/deploy.md) --------------
# Off while msk_cluster_arn is empty.  On, a second event source mapping
# sends the function Lambda's Kafka events (docs/handler.md §2) from
# msk_topic; the predictions go to the same output stream.

variable "msk_cluster_arn" {
  description = "ARN of an existing Amazon MSK cluster (IAM access control) whose topic the function also reads; empty: no MSK trigger."
  type        = string
  default     = ""

  validation {
    condition     = var.msk_cluster_arn == "" || can(regex("^arn:aws[a-z-]*:kafka:[a-z0-9-]+:[0-9]{12}:cluster/[^/]+/[^/]+$", var.msk_cluster_arn))
    error_message = "msk_cluster_arn must be empty or an MSK cluster ARN: arn:aws:kafka:REGION:ACCOUNT:cluster/NAME/UUID."
  }
}

variable "msk_topic" {
  description = "Kafka topic of ride events read from the MSK cluster."
  type        = string
  default     = "ride_events"
}

variable "msk_batch_size" {
  description = "Records per invocation at most from MSK (1 to 10000)."
  type        = number
  default     = 100

  validation {
    condition     = var.msk_batch_size >= 1 && var.msk_batch_size <= 10000
    error_message = "msk_batch_size must be between 1 and 10000."
  }
}

variable "msk_starting_position" {
  description = "Where a new MSK mapping starts in the topic: LATEST or TRIM_HORIZON."
  type        = string
  default     = "LATEST"

  validation {
    condition     = contains(["LATEST", "TRIM_HORIZON"], var.msk_starting_position)
    error_message = "msk_starting_position must be LATEST or TRIM_HORIZON."
  }
}

variable "msk_maximum_pollers" {
  description = "Event pollers of the MSK mapping at most (provisioned mode, which partial batch responses need; at least 1 always runs)."
  type        = number
  default     = 2

  validation {
    condition     = var.msk_maximum_pollers >= 1 && var.msk_maximum_pollers <= 2000
    error_message = "msk_maximum_pollers must be between 1 and 2000."
  }
}
