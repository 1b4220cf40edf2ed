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
    /// Run each Pod's containers as local processes (the process kubelet).
    Kubelet(KubeletArgs),
    /// Run the StatefulSet controller.
    StatefulsetController(ClientArgs),
}

/// How a component reaches its API server (this one or a real one).
#[derive(Debug, Args)]
struct ClientArgs {
    /// Kubeconfig of the API server to use (its current context).
    #[arg(long, env = "KUBECONFIG")]
    kubeconfig: PathBuf,
}

/// The process kubelet's settings.
#[derive(Debug, Args)]
struct KubeletArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// Directory for volumes (`volumes/<ns>/<claim>`), Pod directories
    /// with logs and pid files (`pods/`) and the cluster DNS `hosts` file.
    #[arg(long, env = "FJORD_KUBELET_STATE_DIR")]
    state_dir: PathBuf,
    /// Image to binary, `IMAGE=PATH` (repeatable); an entry without a tag
    /// matches every tag of that repository.
    #[arg(long = "image", env = "FJORD_KUBELET_IMAGES", value_delimiter = ',')]
    images: Vec<String>,
    /// TOML image table: `[images]` then `"fjord/broker:0.2.0" = "/path"`.
    #[arg(long, env = "FJORD_KUBELET_IMAGE_TABLE")]
    image_table: Option<PathBuf>,
    /// This node's name (`spec.nodeName` of the Pods it runs).
    #[arg(
        long,
        env = "FJORD_KUBELET_NODE_NAME",
        default_value = "fjord-kube-sim"
    )]
    node_name: String,
    /// A label of this node's Node object, `KEY=VALUE` (repeatable), e.g.
    /// `topology.kubernetes.io/zone=zone-a`.
    #[arg(
        long = "node-label",
        env = "FJORD_KUBELET_NODE_LABELS",
        value_delimiter = ','
    )]
    node_labels: Vec<String>,
    /// Run containers without API access (no `KUBECONFIG`); by default each
    /// container gets this kubelet's kubeconfig as `KUBECONFIG`, in place of
    /// a ServiceAccount token.
    #[arg(long)]
    no_pod_api_access: bool,
}

async fn client_from(args: &ClientArgs) -> anyhow::Result<kube::Client> {
    let kubeconfig = kube::config::Kubeconfig::read_from(&args.kubeconfig)
        .with_context(|| format!("reading {}", args.kubeconfig.display()))?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .context("using the kubeconfig")?;
    kube::Client::try_from(config).context("building the kubernetes client")
}

async fn run_kubelet(args: KubeletArgs) -> anyhow::Result<()> {
    use fjord_kube_sim::kubelet::{self, KubeletConfig, image::ImageTable};
    let mut images = match &args.image_table {
        Some(path) => ImageTable::from_file(path).context("loading the image table")?,
        None => ImageTable::default(),
    };
    for flag in &args.images {
        images.insert_flag(flag).context("--image")?;
    }
    let client = client_from(&args.client).await?;
    let mut config = KubeletConfig::new(args.state_dir, images);
    config.node_name = args.node_name;
    for label in &args.node_labels {
        let (key, value) = label
            .split_once('=')
            .with_context(|| format!("--node-label {label:?} is not KEY=VALUE"))?;
        config.node_labels.insert(key.to_owned(), value.to_owned());
    }
    if !args.no_pod_api_access {
        let path = std::path::absolute(&args.client.kubeconfig)
            .context("resolving the kubeconfig path")?;
        config.pod_kubeconfig = Some(path);
    }
    tracing::info!(node = %config.node_name, state_dir = %config.state_dir.display(), "kubelet starting");
    let (handle, kubelet) = kubelet::start(client, config).context("starting the kubelet")?;
    tracing::info!(hosts = %handle.hosts_file().display(), "cluster dns names are written here");
    // On SIGINT/SIGTERM return, so the runtime drops the Pods' processes
    // (each is killed when its handle drops) instead of leaving them behind.
    tokio::select! {
        result = Box::pin(kubelet) => result.context("the kubelet stopped"),
        () = interrupted() => Ok(()),
    }
}

async fn run_statefulset_controller(args: ClientArgs) -> anyhow::Result<()> {
    let client = client_from(&args).await?;
    tracing::info!("statefulset controller starting");
    tokio::select! {
        () = fjord_kube_sim::statefulset::run(client) => Ok(()),
        () = interrupted() => Ok(()),
    }
}

/// Resolves on SIGINT or SIGTERM.
async fn interrupted() {
    let Ok(mut terminate) =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
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
        Some(Command::Kubelet(args)) => runtime.block_on(run_kubelet(args)),
        Some(Command::StatefulsetController(args)) => {
            runtime.block_on(run_statefulset_controller(args))
        }
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
        // Temporary file, then rename: whoever waits for the file never reads half of it.
        let temporary = path.with_extension("tmp");
        std::fs::write(&temporary, kubeconfig_yaml(&url))
            .with_context(|| format!("writing {}", temporary.display()))?;
        std::fs::rename(&temporary, path)
            .with_context(|| format!("renaming to {}", path.display()))?;
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
