//! The agent: the half of `fjord-operator` that follows the control plane's
//! signed intents into `StreamCluster` and `Topic` resources, under the
//! customer's guardrails, and reports what runs. States, guardrails and the
//! failure model: docs/operator.md, "Agent".
//!
//! Sans-IO parts, tested without any server: `guardrails` (the
//! decision), `window` (maintenance windows), `render` (objects and diff),
//! `checks` (named checks, version order), `backoff`. I/O: `client` (the
//! control plane), `store` (the agent's objects), `apply`, `report`,
//! `decisions` (Events and reports), `runner` (the loop), `scrape`
//! (broker throughput, sans-IO), `transport`
//! (http or https to the control plane).

mod apply;
mod backoff;
mod checks;
mod client;
mod config;
mod decisions;
mod guardrails;
pub mod lag;
mod render;
mod report;
mod runner;
mod scrape;
mod store;
mod transport;
mod window;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use kube::{Client, Resource as _};

pub use config::{AgentArgs, BackoffPolicy, Config, PinnedKey, names};

use self::backoff::Backoff;
use self::client::ControlPlane;
use self::decisions::Decisions;
use self::runner::Runner;
use self::store::AgentStore;
use crate::intent_follower::IntentFollower;
use crate::{Error, Result};

/// Runs the agent until its credential is refused (or the configuration is
/// unusable). While the control plane is unreachable it retries; it never
/// returns for that, and it never tears anything down.
pub async fn run(client: Client, config: Config) -> Result<(), crate::Error> {
    config.validate()?;
    let store = AgentStore::new(client.clone(), &config.namespace);
    let control = Arc::new(ControlPlane::new(
        &config.control_plane_url,
        config.long_poll_wait,
        config.control_plane_ca_file.as_deref(),
    )?);
    let credential = credential(&store, &control, &config).await?;
    control.set_credential(credential.credential.clone()).await;
    let key = match &config.pinned_key {
        Some(key) => key.clone(),
        None => store.pinned_key().await?.ok_or_else(|| {
            Error::AgentConfig(format!(
                "no pinned signing key: pass --signing-public-key and --signing-key-id or create Secret {}",
                names::SIGNING_KEY_SECRET
            ))
        })?,
    };
    let new_follower = || {
        IntentFollower::new(&key.public_key, &key.key_id, credential.environment_id)
            .map_err(|error| Error::AgentConfig(error.to_string()))
    };
    let mut follower = new_follower()?;
    let state = store.ensure_state().await?;
    let mut decisions = Decisions::new(client.clone(), state.object_ref(&()), Arc::clone(&control));
    let applied = match store.applied_intent().await? {
        None => None,
        Some(json) => match follower.receive("application/json", json.as_bytes()) {
            Ok(document) => {
                tracing::info!(
                    generation = document.generation,
                    "resuming from the stored applied intent"
                );
                Some(document.clone())
            }
            Err(error) => {
                // Someone edited the state: start from the control plane's latest.
                let message = format!("the stored applied intent does not verify: {error}");
                decisions
                    .record(
                        0,
                        fjord_api::IntentOutcome::Refused,
                        Some("stored-state"),
                        &message,
                    )
                    .await;
                follower = new_follower()?;
                None
            }
        },
    };
    let applied_generation = Arc::new(AtomicI64::new(
        applied.as_ref().map_or(0, |doc| doc.generation),
    ));
    let reporter = tokio::spawn(report_status(
        client.clone(),
        config.clone(),
        Arc::clone(&control),
        Arc::clone(&applied_generation),
    ));
    let _stop_reporter = AbortOnDrop(reporter);
    let runner = Runner {
        config,
        client,
        store,
        control,
        follower,
        applied,
        applied_generation,
        decisions,
        refused: None,
        waiting: false,
    };
    runner.run().await
}

/// The stored credential, or a new one from registration (stored before use).
async fn credential(
    store: &AgentStore,
    control: &ControlPlane,
    config: &Config,
) -> Result<store::Credential> {
    if let Some(credential) = store.credential().await? {
        return Ok(credential);
    }
    let token = match &config.registration_token {
        Some(token) => token.clone(),
        None => store.registration_token().await?.ok_or_else(|| {
            Error::AgentConfig(format!(
                "not registered and no registration token: pass --registration-token or create Secret {}",
                names::REGISTRATION_SECRET
            ))
        })?,
    };
    let mut backoff = Backoff::new(config.backoff);
    let registration = loop {
        match control.register(&token, &config.agent_version).await {
            Ok(registration) => break registration,
            Err(error) if error.is_transient() => {
                let delay = backoff.next_delay();
                tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64, "cannot register yet");
                tokio::time::sleep(delay).await;
            }
            Err(error) => return Err(error),
        }
    };
    store
        .save_credential(
            &registration.agent_credential,
            registration.environment_id,
            registration.organization_id,
        )
        .await?;
    tracing::info!(environment_id = %registration.environment_id, "registered");
    Ok(store::Credential {
        credential: registration.agent_credential,
        environment_id: registration.environment_id,
    })
}

/// Reports status every interval, the first at once; failures are logged
/// and the next interval tries again.
async fn report_status(
    client: Client,
    config: Config,
    control: Arc<ControlPlane>,
    applied_generation: Arc<AtomicI64>,
) {
    let mut scraper = match report::Scraper::new(config.broker_metrics_port) {
        Ok(scraper) => scraper,
        Err(error) => {
            tracing::error!(%error, "cannot build the broker metrics client; no status reports");
            return;
        }
    };
    let mut interval = tokio::time::interval(config.status_interval);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let generation = applied_generation.load(Ordering::Acquire);
        let observed = report::observe(
            &client,
            &config.target_namespace,
            generation,
            &config.agent_version,
            &mut scraper,
        )
        .await;
        let result = match observed {
            Ok(report) => control.report_status(&report).await,
            Err(error) => Err(error),
        };
        if let Err(error) = result {
            tracing::debug!(%error, "status not reported");
        }
    }
}

/// Stops a spawned task when the agent stops.
#[derive(Debug)]
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
