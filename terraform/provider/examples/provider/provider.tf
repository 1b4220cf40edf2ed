terraform {
  required_providers {
    fjord = {
      source = "fjord/fjord"
    }
  }
}

# The API key comes from FJORD_API_KEY so it stays out of the configuration.
provider "fjord" {
  endpoint = "https://api.fjord.example"
}
