//! The state every handler shares, and how the agent channel behaves.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use fjord_telemetry::{HttpMetrics, Metrics};
use sqlx::PgPool;

use crate::auth::keys::RecentUses;
use crate::intent::bodies::IntentBodies;
use crate::intent::watch::IntentWatch;
use crate::jobs::JobSettings;
use crate::signer::IntentSigner;

/// How the agent channel behaves.
#[derive(Debug, Clone)]
pub struct AgentSettings {
    /// An environment whose agent was not heard from for this long is
    /// shown as disconnected.
    pub disconnected_after: Duration,
    /// Longest a long-poll for intents waits.
    pub long_poll_max: Duration,
    /// Lifetime of an agent access token.
    pub access_token_lifetime: Duration,
}

impl AgentSettings {
    /// How often a replica records that an environment's agent is polling:
    /// often enough that a polling agent never looks disconnected.
    pub(crate) fn contact_period(&self) -> Duration {
        (self.disconnected_after / 6).min(Duration::from_secs(10))
    }
}

impl Default for AgentSettings {
    fn default() -> Self {
        Self {
            disconnected_after: Duration::from_secs(90),
            long_poll_max: Duration::from_secs(30),
            access_token_lifetime: Duration::from_secs(15 * 60),
        }
    }
}

/// Shared state of every handler.
#[derive(Debug, Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub console_dir: Option<PathBuf>,
    pub metrics: Arc<Metrics>,
    pub http_metrics: Arc<HttpMetrics>,
    pub signer: Arc<IntentSigner>,
    pub intents: IntentWatch,
    pub agent: AgentSettings,
    pub jobs: JobSettings,
    pub sessions: crate::session::SessionSettings,
    pub(crate) sign_in_limiter: Arc<crate::session::SignInLimiter>,
    /// AWS for cloud provisioning (docs/provisioning.md); `None`: not
    /// configured, provisioning jobs fail saying so.
    pub cloud: Option<fjord_provisioner::CloudConfig>,
    pub(crate) api_key_uses: Arc<RecentUses>,
    pub(crate) agent_contacts: Arc<RecentUses>,
    pub(crate) intent_bodies: IntentBodies,
}

impl AppState {
    /// State with default settings and fresh metrics; call
    /// [`IntentWatch::listen`] on `intents` before serving agents.
    pub fn new(pool: PgPool, signer: IntentSigner) -> Self {
        let mut metrics = Metrics::new("fjord-control-plane");
        let http_metrics = Arc::new(HttpMetrics::register(&mut metrics));
        let intents = IntentWatch::default();
        intents.register(metrics.registry_mut());
        let intent_bodies = IntentBodies::default();
        intent_bodies.register(metrics.registry_mut());
        Self {
            pool,
            console_dir: None,
            metrics: Arc::new(metrics),
            http_metrics,
            signer: Arc::new(signer),
            intents,
            agent: AgentSettings::default(),
            jobs: JobSettings::default(),
            sessions: crate::session::SessionSettings::default(),
            sign_in_limiter: Arc::default(),
            cloud: None,
            api_key_uses: Arc::default(),
            agent_contacts: Arc::default(),
            intent_bodies,
        }
    }
}
