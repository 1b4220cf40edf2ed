# A whole configuration: what a team applies after the aws-byoc module ran
# in its account. `cargo xtask test` runs `terraform validate` on it with
# the provider built from this repository.

terraform {
  required_providers {
    fjord = {
      source = "fjord/fjord"
    }
  }
}

provider "fjord" {
  endpoint = var.endpoint
}

variable "endpoint" {
  description = "The Fjord API."
  type        = string
  default     = "https://api.fjord.example"
}

variable "aws_account_id" {
  description = "The account the aws-byoc module ran in."
  type        = string
  default     = "123456789012"
}

data "fjord_releases" "stable" {
  channel = "stable"
}

resource "fjord_cloud_account" "acme" {
  name           = "acme-prod"
  aws_account_id = var.aws_account_id
  role_arn       = "arn:aws:iam::${var.aws_account_id}:role/fjord-control"
}

resource "fjord_environment" "prod" {
  name             = "prod"
  cloud_account_id = fjord_cloud_account.acme.id
  region           = "eu-west-1"
}

resource "fjord_cluster" "orders" {
  environment_id      = fjord_environment.prod.id
  name                = "orders"
  version             = data.fjord_releases.stable.latest
  broker_count        = 3
  storage_gib         = 100
  deletion_protection = true

  timeouts = {
    create = "45m"
  }
}

resource "fjord_topic" "payments" {
  cluster_id         = fjord_cluster.orders.id
  name               = "payments"
  partitions         = 12
  replication_factor = 3
}

resource "fjord_api_key" "dashboards" {
  name  = "grafana dashboards"
  scope = "read-only"
}

output "external_id" {
  description = "Put into the aws-byoc module's external_id."
  value       = fjord_cloud_account.acme.external_id
}

output "registration_token" {
  description = "Put into the aws-byoc module's registration_token."
  value       = fjord_environment.prod.registration_token
  sensitive   = true
}
