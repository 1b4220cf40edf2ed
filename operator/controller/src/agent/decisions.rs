//! Every decision on an intent (applied, refused, waiting) becomes one
//! Kubernetes Event on the agent's state ConfigMap and one report to the
//! control plane. A decision repeated for the same generation is neither
//! published nor reported again; a report the control plane could not take
//! is kept (the latest only) and sent after the next successful call.

use std::sync::Arc;

use fjord_api::{AgentIntentReport, IntentOutcome};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};

use super::client::ControlPlane;
use super::config::names;
use super::report::bounded;

/// Publishes decisions. Events are created one per decision, not through
/// kube's `Recorder`: it folds events of one reason into a series keeping
/// the first note, and each decision's note says something new.
pub(crate) struct Decisions {
    events: Api<Event>,
    instance: String,
    reference: ObjectReference,
    control: Arc<ControlPlane>,
    last: Option<(i64, IntentOutcome, Option<String>)>,
    unsent: Option<AgentIntentReport>,
}

impl std::fmt::Debug for Decisions {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Decisions")
            .field("last", &self.last)
            .field("unsent", &self.unsent)
            .finish_non_exhaustive()
    }
}

impl Decisions {
    /// Events go on `reference` (the state ConfigMap).
    pub(crate) fn new(
        client: Client,
        reference: ObjectReference,
        control: Arc<ControlPlane>,
    ) -> Self {
        let namespace = reference
            .namespace
            .clone()
            .unwrap_or_else(|| "default".to_owned());
        Self {
            events: Api::namespaced(client, &namespace),
            instance: std::env::var("POD_NAME").unwrap_or_else(|_| names::FIELD_MANAGER.to_owned()),
            reference,
            control,
            last: None,
            unsent: None,
        }
    }

    /// Records one decision, unless it repeats the previous one.
    pub(crate) async fn record(
        &mut self,
        generation: i64,
        outcome: IntentOutcome,
        check: Option<&str>,
        message: &str,
    ) {
        let key = (generation, outcome, check.map(str::to_owned));
        if self.last.as_ref() == Some(&key) {
            return;
        }
        self.last = Some(key);
        let (event_type, reason) = match outcome {
            IntentOutcome::Applied => ("Normal", "IntentApplied"),
            IntentOutcome::Refused => ("Warning", "IntentRefused"),
            IntentOutcome::Waiting => ("Normal", "IntentWaiting"),
        };
        let note = match check {
            Some(check) => format!("generation {generation}: {check}: {message}"),
            None => format!("generation {generation}: {message}"),
        };
        match outcome {
            IntentOutcome::Refused => tracing::warn!(generation, check, message, "intent refused"),
            _ => tracing::info!(
                generation,
                outcome = outcome.as_str(),
                check,
                message,
                "intent decision"
            ),
        }
        let event = Event {
            metadata: ObjectMeta {
                generate_name: Some(format!(
                    "{}.",
                    self.reference.name.as_deref().unwrap_or("fjord-agent")
                )),
                ..ObjectMeta::default()
            },
            type_: Some(event_type.to_owned()),
            reason: Some(reason.to_owned()),
            note: Some(bounded(&note, 1000)),
            action: Some("FollowIntent".to_owned()),
            event_time: Some(MicroTime(jiff::Timestamp::now())),
            regarding: Some(self.reference.clone()),
            reporting_controller: Some(names::FIELD_MANAGER.to_owned()),
            reporting_instance: Some(self.instance.clone()),
            ..Event::default()
        };
        if let Err(error) = self.events.create(&PostParams::default(), &event).await {
            tracing::warn!(%error, "cannot publish the decision's event");
        }
        self.unsent = Some(AgentIntentReport {
            generation: generation.max(0),
            outcome,
            check: check.map(str::to_owned),
            message: bounded(message, 2000),
        });
        self.flush().await;
    }

    /// Sends the report the control plane has not taken yet.
    pub(crate) async fn flush(&mut self) {
        let Some(report) = self.unsent.take() else {
            return;
        };
        match self.control.report_intent(&report).await {
            Ok(()) => {}
            Err(error) if error.is_transient() => {
                tracing::debug!(%error, "decision not reported yet");
                self.unsent = Some(report);
            }
            Err(error) => tracing::warn!(%error, "the control plane refused a decision report"),
        }
    }
}
