use std::net::SocketAddr;

use anyhow::Context;
use clap::Parser;
use fjord_control_plane::config::{Cli, Command, ServeArgs};
use fjord_control_plane::{AppState, IntentSigner, admin, app};
use tracing::{info, warn};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    cli.logging.init().context("cannot set up logging")?;
    if let Some(Command::Openapi) = &cli.command {
        let document = fjord_control_plane::openapi()
            .to_pretty_json()
            .context("cannot write the OpenAPI document")?;
        println!("{document}");
        return Ok(());
    }
    let database_url = cli
        .database
        .database_url
        .as_deref()
        .context("--database-url (or DATABASE_URL) is required")?;
    let pool = fjord_store::connect(database_url, cli.database.database_connections_max).await?;
    fjord_store::migrate(&pool).await?;
    match &cli.command {
        Some(Command::Migrate) => return Ok(()),
        Some(Command::CreateOrganization { name }) => {
            let secret = admin::create_organization(&pool, name).await?;
            println!("{secret}");
            return Ok(());
        }
        Some(Command::CreateUser {
            organization,
            email,
            role,
        }) => {
            if let Some(password) = admin::create_user(&pool, organization, email, role).await? {
                println!("{password}");
            }
            return Ok(());
        }
        Some(Command::Openapi) => return Ok(()),
        Some(Command::AddRelease {
            version,
            channel,
            notes,
        }) => {
            return admin::add_release(&pool, version, channel, notes).await;
        }
        Some(Command::Serve) | None => {}
    }

    if let Some(directory) = &cli.serve.console_dir {
        anyhow::ensure!(
            directory.join("index.html").is_file(),
            "--console-dir {} holds no index.html; build the console with `npm run build` in web/",
            directory.display()
        );
    }
    let mut state = AppState::new(pool.clone(), signer(&cli.serve)?);
    state.console_dir = cli.serve.console_dir.clone();
    state.sessions.cookie_secure = cli.serve.secure_cookies;
    state.cloud = cli.serve.aws.cloud_config();
    state.agent.disconnected_after =
        std::time::Duration::from_secs(cli.serve.agent_disconnected_after_seconds);
    state
        .intents
        .listen(&pool)
        .await
        .context("cannot listen for intent notifications")?;
    let _workers = fjord_control_plane::jobs::spawn_workers(&state, cli.serve.job_workers);
    let _housekeeping =
        fjord_control_plane::jobs::spawn_housekeeping(&state, std::time::Duration::from_secs(600));
    let listener = tokio::net::TcpListener::bind(cli.serve.listen)
        .await
        .with_context(|| format!("cannot listen on {}", cli.serve.listen))?;
    info!(address = %listener.local_addr()?, key_id = state.signer.key_id(), "control plane listening");
    axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .context("server failed")?;
    info!("control plane stopped");
    Ok(())
}

fn signer(serve: &ServeArgs) -> anyhow::Result<IntentSigner> {
    if let Some(seed) = &serve.intent_signing_key {
        return IntentSigner::from_base64_seed(seed);
    }
    if let Some(path) = &serve.intent_signing_key_file {
        let seed = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        return IntentSigner::from_base64_seed(&seed);
    }
    let signer = IntentSigner::generate()?;
    warn!(
        key_id = signer.key_id(),
        "INSECURE: no --intent-signing-key given, signing intents with a random key that changes on every start; agents cannot pin it"
    );
    Ok(signer)
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
