data "fjord_releases" "stable" {
  channel = "stable"
}

resource "fjord_cluster" "orders" {
  environment_id      = fjord_environment.prod.id
  name                = "orders"
  version             = data.fjord_releases.stable.latest
  broker_count        = 3
  storage_gib         = 100
  config              = { "log.retention.hours" = "168" }
  deletion_protection = true

  timeouts = {
    create = "45m"
    update = "2h"
  }
}
