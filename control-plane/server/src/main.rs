use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use fjord_control_plane::config::{Cli, Command};
use fjord_control_plane::{AppState, app};
use fjord_telemetry::{HttpMetrics, Metrics};
use tracing::info;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    cli.logging.init().context("cannot set up logging")?;
    let database_url = cli.database.url().map_err(anyhow::Error::msg)?;
    let pool = fjord_store::connect(database_url, cli.database.database_connections_max).await?;
    fjord_store::migrate(&pool).await?;
    if matches!(cli.command, Some(Command::Migrate)) {
        return Ok(());
    }

    let mut metrics = Metrics::new("fjord-control-plane");
    let http_metrics = Arc::new(HttpMetrics::register(&mut metrics));
    if let Some(directory) = &cli.serve.console_dir {
        anyhow::ensure!(
            directory.join("index.html").is_file(),
            "--console-dir {} holds no index.html; build the console with `npm run build` in web/",
            directory.display()
        );
    }
    let state = AppState {
        pool,
        console_dir: cli.serve.console_dir.clone(),
        metrics: Arc::new(metrics),
        http_metrics,
    };
    let listener = tokio::net::TcpListener::bind(cli.serve.listen)
        .await
        .with_context(|| format!("cannot listen on {}", cli.serve.listen))?;
    info!(address = %listener.local_addr()?, "control plane listening");
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("server failed")?;
    info!("control plane stopped");
    Ok(())
}

async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => info!("interrupt received, shutting down"),
        () = terminate => info!("SIGTERM received, shutting down"),
    }
}
