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
    /// Create an organization and its first admin API key. Prints only the
    /// key's secret on stdout (logs go to stderr), so it can be captured:
    /// `KEY=$(fjord-control-plane create-organization acme)`.
    CreateOrganization {
        /// DNS-1123 label, unique across the control plane.
        name: String,
    },
    /// Add a user to an organization (creating the user if the email is
    /// new) with a generated password, printed alone on stdout. An email
    /// that already has a user keeps its password; nothing is printed then.
    CreateUser {
        /// The organization's name.
        organization: String,
        /// The user's email, which they sign in with.
        email: String,
        /// `admin` or `viewer`.
        #[arg(long, default_value = "admin")]
        role: String,
    },
    /// Print the OpenAPI document of the REST API on stdout and exit (no
    /// database needed); the console's typed client is generated from it.
    Openapi,
    /// Add a release to the catalog every organization sees.
    AddRelease {
        /// Semantic version, e.g. `0.3.0`.
        version: String,
        /// `stable`, `rapid` or `preview`.
        #[arg(long, default_value = "stable")]
        channel: String,
        /// Release notes.
        #[arg(long, default_value = "")]
        notes: String,
    },
}

/// Where the inventory lives.
#[derive(Debug, Clone, clap::Args)]
pub struct DatabaseArgs {
    /// Postgres connection URL, e.g. `postgres://user@127.0.0.1:5432/fjord`
    /// (required; optional here only because clap forbids required global
    /// arguments).
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

/// How the server listens and what it serves.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on, `HOST:PORT`.
    #[arg(
        long,
        global = true,
        env = "FJORD_LISTEN",
        default_value = "127.0.0.1:8080"
    )]
    pub listen: SocketAddr,

    /// Base64 of the 32-byte ed25519 seed intents are signed with. Without it
    /// (and without --intent-signing-key-file) a random key is generated,
    /// which agents cannot pin: development only.
    #[arg(
        long,
        global = true,
        env = "FJORD_INTENT_SIGNING_KEY",
        hide_env_values = true,
        conflicts_with = "intent_signing_key_file"
    )]
    pub intent_signing_key: Option<String>,

    /// File holding the base64 seed, as --intent-signing-key.
    #[arg(long, global = true, env = "FJORD_INTENT_SIGNING_KEY_FILE")]
    pub intent_signing_key_file: Option<PathBuf>,

    /// Seconds without hearing from an agent after which its environment
    /// is shown as disconnected.
    #[arg(
        long,
        global = true,
        env = "FJORD_AGENT_DISCONNECTED_AFTER_SECONDS",
        default_value_t = 90
    )]
    pub agent_disconnected_after_seconds: u64,

    /// Number of background job workers (rollouts and other long work) in
    /// this replica; 0 leaves jobs to other replicas.
    #[arg(long, global = true, env = "FJORD_JOB_WORKERS", default_value_t = 2)]
    pub job_workers: usize,

    /// Always mark the console's session cookie `Secure`. Set it when TLS
    /// is terminated in front of the control plane without an
    /// `X-Forwarded-Proto: https` header (with the header, the cookie is
    /// `Secure` anyway).
    #[arg(long, global = true, env = "FJORD_SECURE_COOKIES")]
    pub secure_cookies: bool,

    /// Directory holding the built web console (`web/dist`). When absent,
    /// `/` explains how to build it instead of serving the console.
    #[arg(long, global = true, env = "FJORD_CONSOLE_DIR")]
    pub console_dir: Option<PathBuf>,

    #[command(flatten)]
    pub aws: AwsArgs,
}

/// The control plane's own AWS identity, the principal customers' roles
/// trust (docs/provisioning.md). Without an access key, cloud provisioning
/// is off and its operations fail saying so.
#[derive(Debug, Clone, clap::Args)]
pub struct AwsArgs {
    /// Access key id of the control plane's AWS identity.
    #[arg(
        long,
        global = true,
        env = "AWS_ACCESS_KEY_ID",
        requires = "aws_secret_access_key"
    )]
    pub aws_access_key_id: Option<String>,

    /// Its secret access key.
    #[arg(
        long,
        global = true,
        env = "AWS_SECRET_ACCESS_KEY",
        hide_env_values = true
    )]
    pub aws_secret_access_key: Option<String>,

    /// An endpoint for every AWS call instead of AWS itself: a local
    /// `moto_server` (`cargo xtask dev` sets it).
    #[arg(long, global = true, env = "FJORD_AWS_ENDPOINT_URL")]
    pub aws_endpoint_url: Option<String>,

    /// Emulate the customers' trust policies (require the external id)
    /// in front of an emulator that evaluates none; with
    /// --aws-endpoint-url only, never against AWS.
    #[arg(
        long,
        global = true,
        env = "FJORD_AWS_EMULATE_TRUST_POLICIES",
        requires = "aws_endpoint_url"
    )]
    pub aws_emulate_trust_policies: bool,
}

impl AwsArgs {
    /// The provisioner's settings, when an identity is given.
    pub fn cloud_config(&self) -> Option<fjord_provisioner::CloudConfig> {
        let (Some(key_id), Some(secret)) = (&self.aws_access_key_id, &self.aws_secret_access_key)
        else {
            return None;
        };
        Some(fjord_provisioner::CloudConfig {
            endpoint_url: self.aws_endpoint_url.clone(),
            credentials: fjord_provisioner::aws_sdk_ec2::config::Credentials::new(
                key_id,
                secret,
                None,
                None,
                "fjord-control-plane",
            ),
            trust_emulation: self
                .aws_emulate_trust_policies
                .then(fjord_provisioner::TrustEmulation::learning),
            retry: fjord_provisioner::retry::RetryPolicy::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn create_organization_takes_the_database_after_the_subcommand() {
        let cli = Cli::try_parse_from([
            "fjord-control-plane",
            "create-organization",
            "acme",
            "--database-url",
            "postgres://db/fjord",
        ]);
        let cli = cli.map_err(|error| error.to_string());
        assert!(
            matches!(&cli, Ok(cli) if cli.database.database_url.as_deref() == Some("postgres://db/fjord")
                && matches!(&cli.command, Some(Command::CreateOrganization { name }) if name == "acme")),
            "{cli:?}"
        );
    }
}
