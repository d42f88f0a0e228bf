terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # logging_config on aws_lambda_function needs 5.32 or later.
      version = ">= 5.32, < 7.0"
    }
  }

  # State is local by default.  For a team, keep it in S3 as the course does
  # (create the bucket first), e.g.:
  #   terraform init -backend-config="bucket=tf-state-ridepred" \
  #     -backend-config="key=ridepred.tfstate" -backend-config="region=eu-west-1"
  # after uncommenting:
  # backend "s3" {}
}

provider "aws" {
  region = var.aws_region
}
