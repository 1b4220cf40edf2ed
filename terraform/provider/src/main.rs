//! The provider binary Terraform starts. stdout carries only the plugin
//! handshake; set `PLUGIN_LOG_FILE` to get a trace log.

use terraform_provider_fjord::FjordProvider;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tf_provider::serve("fjord", FjordProvider::default()).await
}
