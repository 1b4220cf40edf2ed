resource "fjord_cloud_account" "acme" {
  name           = "acme-prod"
  aws_account_id = "123456789012"
  # The role the aws-byoc module creates (its role_name variable).
  role_arn = "arn:aws:iam::123456789012:role/fjord-control"
}

output "external_id" {
  value = fjord_cloud_account.acme.external_id
}
