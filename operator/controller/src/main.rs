//! `fjord-operator`: the agent and Kubernetes operator.
//!
//! Today it prints the CRDs generated from the Rust types; the controllers
//! and the agent that pulls intents from the control plane build on this.

use std::io::Write;

use anyhow::Context;
use clap::{Parser, Subcommand};

/// fjord-operator: runs Fjord clusters in your Kubernetes cluster.
#[derive(Debug, Parser)]
#[command(name = "fjord-operator", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,

    #[command(flatten)]
    logging: fjord_telemetry::LoggingArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the CustomResourceDefinitions as YAML, for `kubectl apply -f -`.
    Crd,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    cli.logging.init().context("cannot set up logging")?;
    match cli.command {
        Command::Crd => {
            let yaml = fjord_crd::crd_yaml().context("cannot render the CRDs")?;
            std::io::stdout()
                .lock()
                .write_all(yaml.as_bytes())
                .context("cannot write the CRDs")?;
        }
    }
    Ok(())
}
