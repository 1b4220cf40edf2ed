//! `fjord-kube-sim`: the in-memory Kubernetes API server, served over HTTP on loopback.
//!
//! `fjord-kube-sim --listen 127.0.0.1:6443 --kubeconfig kubeconfig.yaml [--state state.json]`
//! serves the API and writes a kubeconfig that kubectl and kube-rs can use. With
//! `--state`, objects are loaded at start-up and written back periodically and on exit.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use fjord_kube_sim::{ApiServer, kubeconfig_yaml, serve, store::StateFile};
use fjord_telemetry::LoggingArgs;

/// An in-memory Kubernetes API server for tests and the local stack.
#[derive(Debug, Parser)]
#[command(name = "fjord-kube-sim", version)]
struct Cli {
    #[command(flatten)]
    server: ServerArgs,
    #[command(flatten)]
    logging: LoggingArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

/// Running the API server (the default command).
#[derive(Debug, Args)]
struct ServerArgs {
    /// Address to serve the API on (loopback).
    #[arg(long, env = "FJORD_KUBE_SIM_LISTEN", default_value = "127.0.0.1:6443")]
    listen: SocketAddr,
    /// Where to write a kubeconfig pointing at the server.
    #[arg(long, env = "FJORD_KUBE_SIM_KUBECONFIG")]
    kubeconfig: Option<PathBuf>,
    /// State file: loaded at start-up, written every few seconds and on exit.
    #[arg(long, env = "FJORD_KUBE_SIM_STATE")]
    state: Option<PathBuf>,
    /// Seconds between state file writes.
    #[arg(long, env = "FJORD_KUBE_SIM_STATE_INTERVAL", default_value_t = 2)]
    state_interval_seconds: u64,
}

/// Other components of the simulator, each a client of an API server.
#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API (the same as giving no command).
    Serve,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    cli.logging.init().context("initialising logging")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    match cli.command {
        None | Some(Command::Serve) => runtime.block_on(run_server(cli.server)),
    }
}

async fn run_server(args: ServerArgs) -> anyhow::Result<()> {
    let server = ApiServer::default();
    if let Some(path) = &args.state
        && let Some(state) = StateFile::read(path).context("loading the state file")?
    {
        server.restore(state);
        tracing::info!(path = %path.display(), resource_version = server.resource_version(), "state loaded");
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let address = listener.local_addr().context("reading the bound address")?;
    let url = format!("http://{address}");
    if let Some(path) = &args.kubeconfig {
        std::fs::write(path, kubeconfig_yaml(&url))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    tracing::info!(%url, "serving the kubernetes api");
    let saver = args.state.clone().map(|path| {
        let server = server.clone();
        let interval = Duration::from_secs(args.state_interval_seconds.max(1));
        tokio::spawn(async move {
            let mut written = 0;
            loop {
                tokio::time::sleep(interval).await;
                let version = server.resource_version();
                if version != written {
                    match server.snapshot().write(&path) {
                        Ok(()) => written = version,
                        Err(error) => tracing::warn!(%error, "writing the state file failed"),
                    }
                }
            }
        })
    });
    let shutdown = async {
        let interrupt = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut terminate =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(signal) => signal,
                    Err(_) => {
                        let _ = interrupt.await;
                        return;
                    }
                };
            tokio::select! {
                _ = interrupt => {}
                _ = terminate.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = interrupt.await;
    };
    serve(server.clone(), listener, shutdown)
        .await
        .context("serving")?;
    if let Some(saver) = saver {
        saver.abort();
    }
    if let Some(path) = &args.state {
        server
            .snapshot()
            .write(path)
            .context("writing the state file on exit")?;
        tracing::info!(path = %path.display(), "state written");
    }
    Ok(())
}
