//! `fjord-operator`: the agent and Kubernetes operator.
//!
//! `fjord-operator run` runs the controllers (only on the replica holding
//! the leader Lease); `fjord-operator crd` prints the CRDs generated from the
//! Rust types.

use std::io::Write;

use anyhow::Context;
use clap::{Parser, Subcommand};
use fjord_operator::agent::{self, AgentArgs};
use fjord_operator::runtime::{Controllers, RunArgs, RunConfig, Runtime};
use fjord_operator::{cluster, topic};
use tokio_util::sync::CancellationToken;

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
    /// Run the controllers against the Kubernetes cluster found the standard
    /// way (KUBECONFIG or ~/.kube/config when present, else the in-cluster
    /// service account); only the replica holding the leader Lease acts.
    Run {
        #[command(flatten)]
        run: Box<RunArgs>,
        /// The agent (runs when `--control-plane-url` is given).
        #[command(flatten)]
        agent: Box<AgentArgs>,
    },
    /// Write this broker Pod's rack (its node's topology label) to a file:
    /// the init container of rack-aware brokers.
    BrokerRack(fjord_operator::rack::RackArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    cli.logging.init().context("cannot set up logging")?;
    match cli.command {
        Command::Run { run: args, agent } => {
            let config = (*args).into_config().context("invalid settings")?;
            // The agent keeps its state, credential and guardrails in the
            // operator's own namespace, the one its Lease lives in.
            let agent = (*agent)
                .into_config(&config.lease.namespace)
                .context("invalid agent settings")?;
            tokio::runtime::Runtime::new()
                .context("cannot start the async runtime")?
                .block_on(run(config, agent))?;
        }
        Command::BrokerRack(args) => {
            tokio::runtime::Runtime::new()
                .context("cannot start the async runtime")?
                .block_on(async {
                    let client = kube::Client::try_default()
                        .await
                        .context("cannot find the Kubernetes API (in-cluster or KUBECONFIG)")?;
                    fjord_operator::rack::run(client, &args)
                        .await
                        .context("cannot write the broker's rack")
                })?;
        }
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

async fn run(config: RunConfig, agent: Option<agent::Config>) -> anyhow::Result<()> {
    let client = kube::Client::try_default()
        .await
        .context("cannot find a Kubernetes cluster (in-cluster or KUBECONFIG)")?;
    let runtime = Runtime::new(config);
    let settings = runtime.config().clone();
    let topic_config = topic::Config {
        namespace: settings.namespace.clone(),
        resync_interval: settings.topic_resync,
        metrics: runtime.metrics().controller("topic"),
        ..topic::Config::new(&settings.lease.identity)
    };
    let cluster_config = cluster::Config {
        namespace: settings.namespace.clone(),
        pods: settings.pods.clone(),
        pod_addresses: settings.pod_addresses.pod_addresses(),
        pod_address_mode: settings.pod_addresses,
        roll_pause_max: settings.roll_pause_max,
        roll_health_timeout_max: settings.roll_health_timeout_max,
        ..cluster::Config::default()
    };
    // Each controller is one line here; it runs only while this replica leads.
    let controllers = Controllers::default()
        .register("cluster", move |client| {
            cluster::run(client, cluster_config.clone())
        })
        .register("topic", move |client| {
            topic::run(client, topic_config.clone())
        });
    // The agent acts only on the leader too: two agents applying intents
    // would race each other's server-side applies and reports.
    let controllers = match agent {
        Some(agent_config) => controllers.register("agent", move |client| {
            agent::run(client, agent_config.clone())
        }),
        None => {
            tracing::info!("no --control-plane-url: the agent does not run");
            controllers
        }
    };
    let shutdown = CancellationToken::new();
    tokio::spawn(stop_on_signal(shutdown.clone()));
    runtime
        .run(client, controllers, shutdown)
        .await
        .context("the operator stopped")
}

/// Cancels `shutdown` on SIGINT or SIGTERM.
async fn stop_on_signal(shutdown: CancellationToken) {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
    tracing::info!("shutting down: stopping controllers, then releasing the lease");
    shutdown.cancel();
}
