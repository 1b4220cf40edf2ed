data "fjord_environments" "prod" {
  name = "prod"
}

output "prod_connection" {
  value = one(data.fjord_environments.prod.environments[*].connection_state)
}
