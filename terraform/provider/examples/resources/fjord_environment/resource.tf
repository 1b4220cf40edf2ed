resource "fjord_environment" "prod" {
  name             = "prod"
  cloud_account_id = fjord_cloud_account.acme.id
  region           = "eu-west-1"
}

# Give this to the operator's install (the aws-byoc module's
# registration_token variable).
output "registration_token" {
  value     = fjord_environment.prod.registration_token
  sensitive = true
}
