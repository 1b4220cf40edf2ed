//! Terraform configuration the tests write, so each test spells out only
//! what it is about.

/// A cloud account and its environment, with the environment's
/// registration token as a (sensitive) output.
pub const ACCOUNT_AND_ENVIRONMENT: &str = r#"
resource "fjord_cloud_account" "main" {
  name           = "acme-prod"
  aws_account_id = "123456789012"
  role_arn       = "arn:aws:iam::123456789012:role/fjord-control"
}

resource "fjord_environment" "main" {
  name             = "prod"
  cloud_account_id = fjord_cloud_account.main.id
  region           = "eu-west-1"
}

output "registration_token" {
  value     = fjord_environment.main.registration_token
  sensitive = true
}
"#;

/// A `fjord_cluster` named `name` (also its resource name) in the
/// environment above, with 10 GiB of storage per broker; `extra` is put in
/// the block as it is (a line or more, each ending in a newline).
pub fn cluster(name: &str, version: &str, brokers: u32, extra: &str) -> String {
    format!(
        r#"
resource "fjord_cluster" "{name}" {{
  environment_id = fjord_environment.main.id
  name           = "{name}"
  version        = "{version}"
  broker_count   = {brokers}
  storage_gib    = 10
{extra}}}
"#
    )
}
