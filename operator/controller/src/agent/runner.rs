//! The agent's loop (docs/operator.md, "Agent"): hold the newest verified
//! intent, decide on it under the guardrails every tick, apply it, and keep
//! long-polling; back off while the control plane is away, touching nothing.
//!
//! Invariants: the state ConfigMap only ever names a generation whose every
//! object was applied; `applied` is that generation's document; a generation
//! is applied at most once per agent life unless a write failed.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use fjord_api::{IntentDocument, IntentOutcome};
use kube::Client;

use super::apply;
use super::backoff::Backoff;
use super::checks::{Check, Refusal};
use super::client::{ControlPlane, Polled};
use super::config::Config;
use super::decisions::Decisions;
use super::guardrails::{Guardrails, Verdict, WaitReason};
use super::render;
use super::store::AgentStore;
use crate::intent_follower::IntentFollower;
use crate::{Error, Result};

/// The agent between polls.
pub(crate) struct Runner {
    pub(crate) config: Config,
    pub(crate) client: Client,
    pub(crate) store: AgentStore,
    pub(crate) control: Arc<ControlPlane>,
    pub(crate) follower: IntentFollower,
    pub(crate) applied: Option<IntentDocument>,
    /// The applied generation, shared with the status reporter.
    pub(crate) applied_generation: Arc<AtomicI64>,
    pub(crate) decisions: Decisions,
    /// A verified generation a check refused: not considered again.
    pub(crate) refused: Option<i64>,
    /// A verified generation waits for a guardrail: poll at the tick.
    pub(crate) waiting: bool,
}

impl Runner {
    /// Polls and decides until the credential is refused.
    pub(crate) async fn run(mut self) -> Result<()> {
        let mut backoff = Backoff::new(self.config.backoff);
        loop {
            self.consider().await;
            let wait = if self.waiting {
                self.config.tick.min(self.config.long_poll_wait)
            } else {
                self.config.long_poll_wait
            };
            match self.control.poll(&self.follower.poll_query(), wait).await {
                Ok(polled) => {
                    if backoff.failures() > 0 {
                        tracing::info!(
                            failures = backoff.failures(),
                            "control plane reachable again"
                        );
                    }
                    backoff.reset();
                    self.decisions.flush().await;
                    if let Some(polled) = polled {
                        self.receive(polled).await;
                    }
                }
                Err(Error::Unauthenticated(detail)) => {
                    return Err(Error::Unauthenticated(format!(
                        "{detail} (the credential was replaced or revoked: register again with a new token)"
                    )));
                }
                Err(error) => {
                    let delay = backoff.next_delay();
                    tracing::warn!(
                        %error,
                        failures = backoff.failures(),
                        retry_in_ms = delay.as_millis() as u64,
                        "control plane unreachable, keeping everything as applied"
                    );
                    // Waiting intents are still decided on meanwhile: a window
                    // that opens applies what was verified before the outage.
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    /// Takes a long-poll answer: the follower verifies it or names the
    /// check it failed.
    async fn receive(&mut self, polled: Polled) {
        let hint = serde_json::from_slice::<serde_json::Value>(&polled.body)
            .ok()
            .and_then(|value| value.get("generation").and_then(serde_json::Value::as_i64))
            .unwrap_or(0);
        match self.follower.receive(&polled.media_type, &polled.body) {
            Ok(document) => {
                tracing::info!(generation = document.generation, "verified intent");
            }
            Err(error) => match Refusal::of_follow_error(&error) {
                Some(refusal) => {
                    self.decisions
                        .record(
                            hint,
                            IntentOutcome::Refused,
                            Some(refusal.check.as_str()),
                            &refusal.message,
                        )
                        .await;
                    // The same body would come back at once: wait a tick.
                    tokio::time::sleep(self.config.tick).await;
                }
                None => tracing::info!(%error, "delta not applied, asking for the full intent"),
            },
        }
    }

    /// Decides on the held verified intent if it is not applied yet.
    async fn consider(&mut self) {
        let Some(candidate) = self.follower.document() else {
            self.waiting = false;
            return;
        };
        let generation = candidate.generation;
        let applied_generation = self.applied.as_ref().map_or(0, |doc| doc.generation);
        if generation <= applied_generation || self.refused == Some(generation) {
            self.waiting = false;
            return;
        }
        let candidate = candidate.clone();
        let verdict = match render::render(&candidate, &self.config.target_namespace) {
            Err(refusal) => Verdict::Refuse(refusal),
            Ok(_) => match self.store.guardrail_annotations().await {
                Err(error) => {
                    tracing::warn!(%error, "cannot read the guardrails; deciding next tick");
                    self.waiting = true;
                    return;
                }
                Ok(annotations) => match Guardrails::from_annotations(&annotations) {
                    Ok(guardrails) => {
                        guardrails.decide(jiff::Timestamp::now(), self.applied.as_ref(), &candidate)
                    }
                    Err(message) => Verdict::Wait {
                        reason: WaitReason::GuardrailsInvalid,
                        message,
                    },
                },
            },
        };
        match verdict {
            Verdict::Refuse(refusal) => {
                // A version outside the allowed list may be allowed by a
                // later change of the guardrails: decided again each tick.
                // The other refusals depend on the intent alone.
                if refusal.check == Check::VersionNotAllowed {
                    self.waiting = true;
                } else {
                    self.refused = Some(generation);
                    self.waiting = false;
                }
                self.clear_pending().await;
                self.decisions
                    .record(
                        generation,
                        IntentOutcome::Refused,
                        Some(refusal.check.as_str()),
                        &refusal.message,
                    )
                    .await;
            }
            Verdict::Wait { reason, message } => {
                self.waiting = true;
                let diff = render::diff(self.applied.as_ref(), &candidate);
                if let Err(error) = self.store.save_pending(generation, &diff, &message).await {
                    tracing::warn!(%error, "cannot show the pending intent");
                }
                self.decisions
                    .record(
                        generation,
                        IntentOutcome::Waiting,
                        Some(reason.as_str()),
                        &message,
                    )
                    .await;
            }
            Verdict::Apply => self.apply(candidate).await,
        }
    }

    async fn apply(&mut self, candidate: IntentDocument) {
        let generation = candidate.generation;
        let result = async {
            let rendered = render::render(&candidate, &self.config.target_namespace)
                .map_err(|refusal| Error::AgentConfig(refusal.message))?;
            let applied =
                apply::apply(&self.client, &self.config.target_namespace, &rendered).await?;
            let intent = self
                .follower
                .intent()
                .filter(|intent| intent.generation == generation)
                .ok_or_else(|| {
                    Error::AgentConfig("the held intent changed while applying".to_owned())
                })?;
            let json =
                serde_json::to_string(&intent).map_err(|error| Error::Decode(error.to_string()))?;
            self.store.save_applied(generation, &json).await?;
            Ok::<_, Error>(applied)
        }
        .await;
        match result {
            Ok(applied) => {
                self.applied = Some(candidate);
                self.applied_generation.store(generation, Ordering::Release);
                self.refused = None;
                self.waiting = false;
                self.clear_pending().await;
                let message = if applied.deleted.is_empty() {
                    format!("applied {} resources", applied.applied)
                } else {
                    format!(
                        "applied {} resources, deleted {}",
                        applied.applied,
                        applied.deleted.join(", ")
                    )
                };
                self.decisions
                    .record(generation, IntentOutcome::Applied, None, &message)
                    .await;
            }
            Err(error) => {
                // Nothing recorded as applied: the next tick tries again.
                tracing::warn!(%error, generation, "applying the intent failed; retrying next tick");
                self.waiting = true;
            }
        }
    }

    async fn clear_pending(&self) {
        if let Err(error) = self.store.clear_pending().await {
            tracing::warn!(%error, "cannot remove the pending intent");
        }
    }
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Runner")
            .field("applied", &self.applied.as_ref().map(|doc| doc.generation))
            .field("refused", &self.refused)
            .field("waiting", &self.waiting)
            .finish_non_exhaustive()
    }
}
