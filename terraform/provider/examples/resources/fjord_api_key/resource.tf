resource "fjord_api_key" "dashboards" {
  name  = "grafana dashboards"
  scope = "read-only"
}

output "dashboards_key" {
  value     = fjord_api_key.dashboards.secret
  sensitive = true
}
