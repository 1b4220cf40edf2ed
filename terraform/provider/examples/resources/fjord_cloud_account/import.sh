terraform import fjord_cloud_account.acme 0193a2b4-5c6d-7e8f-9a0b-1c2d3e4f5a6b
