//! The agent's configuration: flags (for `fjord-operator run`) validated
//! once into an immutable [`Config`].

use std::path::PathBuf;
use std::time::Duration;

use crate::{Error, Result};

/// Where the agent's objects live and how it talks to the control plane.
#[derive(Debug, Clone)]
pub struct Config {
    /// Base URL of the control plane: `https://...` (a customer's agent) or
    /// `http://127.0.0.1:8080` (the local stack).
    pub control_plane_url: String,
    /// PEM CA certificates the control plane's certificate must chain to,
    /// instead of the bundled web PKI roots (a private CA or a TLS-inspecting
    /// proxy); read once at start.
    pub control_plane_ca_file: Option<PathBuf>,
    /// The agent's own namespace: its Secrets, state, pending approval and the
    /// Namespace whose annotations are the guardrails.
    pub namespace: String,
    /// Where `StreamCluster` and `Topic` resources go.
    pub target_namespace: String,
    /// The one-time registration token; else Secret
    /// [`names::REGISTRATION_SECRET`] is read.
    pub registration_token: Option<String>,
    /// The pinned signing key; else Secret [`names::SIGNING_KEY_SECRET`] is read.
    pub pinned_key: Option<PinnedKey>,
    /// Reported to the control plane.
    pub agent_version: String,
    /// How long one long-poll waits for a new intent (at most 30 s).
    pub long_poll_wait: Duration,
    /// How often waiting intents (pause, window, approval) are re-checked.
    pub tick: Duration,
    /// How often status is reported.
    pub status_interval: Duration,
    /// Retry delays while the control plane is unreachable.
    pub backoff: BackoffPolicy,
    /// Port of the brokers' admin API, whose `/metrics` give throughput.
    pub broker_metrics_port: u16,
}

/// The ed25519 public key intents must be signed with, as
/// `GET /v1/signing-key` shows it, checked out of band at install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinnedKey {
    /// Base64 of the 32-byte public key.
    pub public_key: String,
    /// First 16 hex characters of the key's sha-256.
    pub key_id: String,
}

/// Capped exponential backoff with full jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffPolicy {
    pub initial: Duration,
    pub max: Duration,
}

impl Default for BackoffPolicy {
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
        }
    }
}

/// Names of the objects the agent reads and writes in its namespace.
pub mod names {
    pub const REGISTRATION_SECRET: &str = "fjord-agent-registration";
    pub const CREDENTIAL_SECRET: &str = "fjord-agent-credential";
    pub const SIGNING_KEY_SECRET: &str = "fjord-agent-signing-key";
    pub const STATE_CONFIG_MAP: &str = "fjord-agent-state";
    pub const PENDING_CONFIG_MAP: &str = "fjord-agent-pending";
    /// Field manager of every write.
    pub const FIELD_MANAGER: &str = "fjord-agent";
    /// Marks what the agent created; only such resources are ever deleted.
    pub const MANAGED_BY_LABEL: &str = "fjord.dev/managed-by";
    pub const MANAGED_BY_VALUE: &str = "fjord-agent";
    pub const CLUSTER_ID_LABEL: &str = "fjord.dev/cluster-id";
    pub const TOPIC_ID_LABEL: &str = "fjord.dev/topic-id";
    pub const GENERATION_ANNOTATION: &str = "fjord.dev/intent-generation";
    pub const PENDING_LABEL: &str = "fjord.dev/pending-approval";
}

impl Config {
    /// A configuration with the defaults, for `control_plane_url`, in
    /// `namespace` (resources go to the same namespace).
    pub fn new(control_plane_url: &str, namespace: &str) -> Self {
        Self {
            control_plane_url: control_plane_url.trim_end_matches('/').to_owned(),
            control_plane_ca_file: None,
            namespace: namespace.to_owned(),
            target_namespace: namespace.to_owned(),
            registration_token: None,
            pinned_key: None,
            agent_version: env!("CARGO_PKG_VERSION").to_owned(),
            long_poll_wait: Duration::from_secs(30),
            tick: Duration::from_secs(5),
            status_interval: Duration::from_secs(10),
            backoff: BackoffPolicy::default(),
            broker_metrics_port: crate::cluster::render::ADMIN_PORT,
        }
    }

    /// Checks what can be checked before any call.
    pub fn validate(&self) -> Result<()> {
        let url = &self.control_plane_url;
        let Ok(uri) = url.parse::<http::Uri>() else {
            return Err(Error::AgentConfig(format!(
                "control plane url {url:?} is not a URL"
            )));
        };
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(Error::AgentConfig(format!(
                "control plane url {url:?} is not http:// or https:// with a host"
            )));
        }
        if uri.query().is_some() {
            return Err(Error::AgentConfig(format!(
                "control plane url {url:?} has a query"
            )));
        }
        if self.namespace.is_empty() || self.target_namespace.is_empty() {
            return Err(Error::AgentConfig("a namespace is empty".to_owned()));
        }
        if self.long_poll_wait > Duration::from_secs(30) {
            return Err(Error::AgentConfig(
                "the long-poll waits at most 30 s".to_owned(),
            ));
        }
        if self.tick.is_zero() || self.status_interval.is_zero() || self.backoff.initial.is_zero() {
            return Err(Error::AgentConfig(
                "tick, status interval and backoff must be above zero".to_owned(),
            ));
        }
        if self.backoff.max < self.backoff.initial {
            return Err(Error::AgentConfig(
                "the backoff cap is below its first delay".to_owned(),
            ));
        }
        Ok(())
    }
}

/// The agent's flags, for the `run` subcommand to flatten.
#[derive(Debug, Clone, clap::Args)]
pub struct AgentArgs {
    /// Base URL of the control plane; without it the agent does not start.
    #[arg(long = "control-plane-url", env = "FJORD_CONTROL_PLANE_URL")]
    pub control_plane_url: Option<String>,
    /// PEM file of the CA certificates the control plane's certificate must
    /// chain to, instead of the bundled web PKI roots.
    #[arg(long = "control-plane-ca-file", env = "FJORD_CONTROL_PLANE_CA_FILE")]
    pub control_plane_ca_file: Option<PathBuf>,
    /// One-time registration token (else Secret `fjord-agent-registration`, key `token`).
    #[arg(long, env = "FJORD_REGISTRATION_TOKEN", hide_env_values = true)]
    pub registration_token: Option<String>,
    /// Pinned base64 ed25519 public key intents must verify against (else
    /// Secret `fjord-agent-signing-key`, keys `public-key` and `key-id`).
    #[arg(long, env = "FJORD_SIGNING_PUBLIC_KEY", requires = "signing_key_id")]
    pub signing_public_key: Option<String>,
    /// Id of the pinned key (16 hex characters).
    #[arg(long, env = "FJORD_SIGNING_KEY_ID", requires = "signing_public_key")]
    pub signing_key_id: Option<String>,
    /// Namespace of the StreamCluster and Topic resources (default: the agent's).
    #[arg(long, env = "FJORD_TARGET_NAMESPACE")]
    pub target_namespace: Option<String>,
}

impl AgentArgs {
    /// The configuration, when a control plane URL is given, for an agent
    /// running in `namespace`.
    pub fn into_config(self, namespace: &str) -> Result<Option<Config>> {
        let Some(url) = self.control_plane_url else {
            return Ok(None);
        };
        let mut config = Config::new(&url, namespace);
        config.registration_token = self.registration_token;
        config.control_plane_ca_file = self.control_plane_ca_file;
        if let (Some(public_key), Some(key_id)) = (self.signing_public_key, self.signing_key_id) {
            config.pinned_key = Some(PinnedKey { public_key, key_id });
        }
        if let Some(target) = self.target_namespace {
            config.target_namespace = target;
        }
        config.validate()?;
        Ok(Some(config))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configuration_is_checked_once_at_start() {
        assert!(
            Config::new("http://127.0.0.1:8080/", "fjord-system")
                .validate()
                .is_ok()
        );
        assert_eq!(
            Config::new("http://cp/", "ns").control_plane_url,
            "http://cp"
        );
        assert!(
            Config::new("https://cp.example:443", "ns")
                .validate()
                .is_ok()
        );
        for url in ["ftp://cp", "cp", "http://", "https://cp/?a=b", "http://c p"] {
            assert!(Config::new(url, "ns").validate().is_err(), "{url}");
        }
        let mut config = Config::new("http://cp", "ns");
        config.long_poll_wait = Duration::from_secs(31);
        assert!(config.validate().is_err());
        let mut config = Config::new("http://cp", "ns");
        config.backoff.max = Duration::from_millis(10);
        assert!(config.validate().is_err());
        let mut config = Config::new("http://cp", "");
        config.target_namespace = "fjord".to_owned();
        assert!(config.validate().is_err());
    }

    #[test]
    fn without_a_control_plane_url_there_is_no_agent() {
        let args = AgentArgs {
            control_plane_url: None,
            control_plane_ca_file: None,
            registration_token: None,
            signing_public_key: None,
            signing_key_id: None,
            target_namespace: None,
        };
        assert!(matches!(args.into_config("fjord-system"), Ok(None)));
        let args = AgentArgs {
            control_plane_url: Some("https://cp".to_owned()),
            control_plane_ca_file: Some(PathBuf::from("/etc/fjord/ca.pem")),
            registration_token: Some("fjr_x".to_owned()),
            signing_public_key: Some("key".to_owned()),
            signing_key_id: Some("id".to_owned()),
            target_namespace: Some("fjord".to_owned()),
        };
        let config = args
            .into_config("fjord-system")
            .ok()
            .flatten()
            .expect("a config");
        assert_eq!(config.target_namespace, "fjord");
        assert_eq!(
            config.control_plane_ca_file.as_deref(),
            Some(std::path::Path::new("/etc/fjord/ca.pem"))
        );
        assert_eq!(config.namespace, "fjord-system");
        assert_eq!(
            config.pinned_key,
            Some(PinnedKey {
                public_key: "key".to_owned(),
                key_id: "id".to_owned()
            })
        );
    }
}
