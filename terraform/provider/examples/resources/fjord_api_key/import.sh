# An imported key has no secret in the state: the API shows it only once.
terraform import fjord_api_key.dashboards 0193a2b4-5c6d-7e8f-9a0b-1c2d3e4f5a6b
