resource "fjord_topic" "payments" {
  cluster_id         = fjord_cluster.orders.id
  name               = "payments"
  partitions         = 12
  replication_factor = 3
  config = {
    "retention.ms"        = "604800000"
    "min.insync.replicas" = "2"
  }
}
