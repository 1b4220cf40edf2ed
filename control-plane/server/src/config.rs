//! Command line of `fjord-control-plane`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// fjord-control-plane: the vendor-side service of Fjord.
///
/// Without a subcommand it serves the REST API (`/v1`), the OpenAPI document
/// (`/openapi.json`), the web console (`/`), and `/healthz`, `/readyz`,
/// `/metrics`. It applies pending database migrations on start.
#[derive(Debug, Parser)]
#[command(name = "fjord-control-plane", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub database: DatabaseArgs,

    #[command(flatten)]
    pub serve: ServeArgs,

    #[command(flatten)]
    pub logging: fjord_telemetry::LoggingArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API and the console (the default).
    Serve,
    /// Apply pending database migrations, then exit.
    Migrate,
}

/// Where the inventory lives.
#[derive(Debug, Clone, clap::Args)]
pub struct DatabaseArgs {
    /// Postgres connection URL, e.g. `postgres://user@127.0.0.1:5432/fjord`.
    /// Required.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true)]
    pub database_url: Option<String>,

    /// Largest number of pooled database connections.
    #[arg(
        long,
        env = "FJORD_DATABASE_CONNECTIONS_MAX",
        default_value_t = 16,
        global = true
    )]
    pub database_connections_max: u32,
}

impl DatabaseArgs {
    /// The connection URL; an error naming the flag and variable when unset.
    pub fn url(&self) -> Result<&str, &'static str> {
        self.database_url
            .as_deref()
            .filter(|url| !url.is_empty())
            .ok_or("set the Postgres URL with --database-url or DATABASE_URL")
    }
}

/// How the server listens and what it serves.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on, `HOST:PORT`.
    #[arg(long, env = "FJORD_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Directory holding the built web console (`web/dist`). When absent,
    /// `/` explains how to build it instead of serving the console.
    #[arg(long, env = "FJORD_CONSOLE_DIR")]
    pub console_dir: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn serve_is_the_default_and_migrate_is_a_subcommand() {
        let cli =
            Cli::try_parse_from(["fjord-control-plane", "--database-url", "postgres://x"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.database.url(), Ok("postgres://x"));
        let cli = Cli::try_parse_from([
            "fjord-control-plane",
            "migrate",
            "--database-url",
            "postgres://x",
        ])
        .unwrap();
        assert!(matches!(cli.command, Some(Command::Migrate)));
    }
}
