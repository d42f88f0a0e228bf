output "lambda_function" {
  value = aws_lambda_function.ridepred.function_name
}

output "ecr_repository_url" {
  description = "docker tag / push target (docs/deploy.md)."
  value       = aws_ecr_repository.ridepred.repository_url
}

output "image_uri" {
  value = local.image_uri
}

output "source_stream_name" {
  description = "Send rides here: ridepred put kinesis:<this> ..."
  value       = aws_kinesis_stream.ride_events.name
}

output "predictions_stream_name" {
  description = "Read predictions here: ridepred read kinesis:<this>"
  value       = aws_kinesis_stream.ride_predictions.name
}

output "model_location" {
  value = "s3://${var.model_bucket}/${local.model_prefix}"
}

output "failure_queue_url" {
  value = aws_sqs_queue.failures.url
}

output "role_arn" {
  value = aws_iam_role.ridepred.arn
}

output "event_source_mapping_uuid" {
  value = aws_lambda_event_source_mapping.ride_events.uuid
}

output "msk_event_source_mapping_uuid" {
  description = "The MSK trigger's mapping; null when msk_cluster_arn is empty."
  value       = one(aws_lambda_event_source_mapping.msk[*].uuid)
}
