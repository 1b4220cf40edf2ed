resource "fjord_rollout" "to_0_4" {
  target_version = "0.4.0"
  waves = [
    [fjord_cluster.staging.id],
    [fjord_cluster.orders.id, fjord_cluster.payments.id],
  ]
  max_in_flight = 1

  timeouts = {
    create = "3h"
  }
}
