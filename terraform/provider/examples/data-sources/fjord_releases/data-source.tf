data "fjord_releases" "stable" {
  channel = "stable"
}

output "newest_stable" {
  value = data.fjord_releases.stable.latest
}
