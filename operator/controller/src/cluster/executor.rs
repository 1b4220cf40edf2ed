//! Executes the roll planner's actions: records the progress first, then
//! acts (asks the probe, sets maintenance, deletes Pods), and says what it
//! decided in Events (docs/operator.md, "What a crash leaves").

use chrono::Utc;
use fjord_crd::{RollProgress, StreamCluster, StreamClusterStatus};
use fjord_metadata::BrokerId;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, Preconditions};
use kube::runtime::events::EventType;
use kube::{Api, ResourceExt};
use tracing::{debug, info};

use super::OVERRIDE_ANNOTATION;
use super::observe::{Observed, observe};
use super::reconcile::{Context, notice, write_status};
use super::render::{Desired, pod_name};
use super::roll::{self, Action, Policy, ProbeAnswer, RollInput};
use crate::{Error, Result};

/// An Event to publish.
#[derive(Debug, Clone)]
pub(super) struct Notice {
    pub(super) kind: EventType,
    pub(super) reason: &'static str,
    pub(super) action: &'static str,
    pub(super) note: String,
}

impl Notice {
    pub(super) fn normal(reason: &'static str, action: &'static str, note: String) -> Self {
        Self {
            kind: EventType::Normal,
            reason,
            action,
            note,
        }
    }

    pub(super) fn warning(reason: &'static str, action: &'static str, note: String) -> Self {
        Self {
            kind: EventType::Warning,
            reason,
            action,
            note,
        }
    }
}

/// Plans and executes until the roll waits, is idle, or has deleted Pods
/// (whose return the next reconcile watches for). Returns the progress.
/// `status_of` computes the full status to record for a progress.
pub(super) async fn drive_roll(
    context: &Context,
    cluster: &StreamCluster,
    desired: &Desired,
    observed: &mut Observed,
    mut recorded: Option<RollProgress>,
    rack_key: Option<&str>,
    status_of: &mut (dyn FnMut(Option<&RollProgress>, &Observed) -> StreamClusterStatus + Send),
) -> Result<Option<RollProgress>> {
    let rollout = &cluster.spec.rollout;
    let (pause, health_timeout) = context.config.roll_timing(rollout);
    let policy = Policy {
        strategy: rollout.strategy,
        health_timeout,
        pause,
    };
    let override_gates = cluster.annotations().get(OVERRIDE_ANNOTATION) == Some(&desired.revision);
    let mut probe: Option<ProbeAnswer> = None;
    for _ in 0..8 {
        let health = observed.health_view();
        let input = RollInput {
            target: &desired.revision,
            brokers: &observed.brokers,
            health: health.as_ref(),
            policy,
            progress: recorded.as_ref(),
            override_gates,
            probe: probe.as_ref(),
            now: Utc::now(),
        };
        let plan = roll::plan(&input);
        if plan.progress != recorded {
            announce(
                context,
                cluster,
                desired,
                recorded.as_ref(),
                plan.progress.as_ref(),
                override_gates,
            )
            .await;
            let status = status_of(plan.progress.as_ref(), observed);
            write_status(context, &desired.namespace, &desired.name, &status).await?;
            recorded = plan.progress;
        }
        match plan.action {
            Action::Idle => break,
            Action::Wait(reason) => {
                debug!(cluster = %desired.name, %reason, "roll waits");
                break;
            }
            Action::Probe(ids) => probe = Some(ask_probe(context, observed, &ids).await),
            Action::EnterMaintenance(ids) | Action::ExitMaintenance(ids) if ids.is_empty() => {
                break;
            }
            Action::EnterMaintenance(ids) => {
                set_maintenance(context, desired, observed, &ids, true).await?;
                *observed = observe(
                    &context.client,
                    context.config.admin.as_ref(),
                    desired,
                    rack_key,
                )
                .await?;
            }
            Action::ExitMaintenance(ids) => {
                let unit = recorded
                    .as_ref()
                    .map(|roll| roll.current)
                    .unwrap_or_default();
                set_maintenance(context, desired, observed, &ids, false).await?;
                let leftover: Vec<String> = ids
                    .iter()
                    .filter(|id| unit != Some(id.0))
                    .map(|id| id.0.to_string())
                    .collect();
                if !leftover.is_empty() && recorded.as_ref().is_none_or(|roll| roll.rack.is_none())
                {
                    let note = format!(
                        "broker {} was left in maintenance; taken out of it",
                        leftover.join(", ")
                    );
                    notice(
                        context,
                        cluster,
                        Notice::normal("MaintenanceCleared", "Maintenance", note),
                    )
                    .await;
                }
                *observed = observe(
                    &context.client,
                    context.config.admin.as_ref(),
                    desired,
                    rack_key,
                )
                .await?;
            }
            Action::DeletePods(ids) => {
                delete_pods(context, cluster, desired, observed, &ids).await?;
                break;
            }
        }
    }
    Ok(recorded)
}

/// Asks the restart probe about each broker, of a ready broker outside them.
async fn ask_probe(context: &Context, observed: &Observed, ids: &[BrokerId]) -> ProbeAnswer {
    let endpoints = observed.endpoints(ids);
    let mut reasons = Vec::new();
    for id in ids {
        let mut answered = false;
        for endpoint in &endpoints {
            match context.config.admin.restart_probe(endpoint, *id).await {
                Ok(probe) => {
                    if let Some(reason) = probe.unsafe_reason(*id) {
                        reasons.push(reason);
                    }
                    answered = true;
                    break;
                }
                Err(error) => debug!(%error, "restart probe not answered"),
            }
        }
        if !answered {
            reasons.push(format!(
                "no serving broker answered the restart probe of broker {}",
                id.0
            ));
        }
    }
    ProbeAnswer {
        brokers: ids.to_vec(),
        unsafe_reason: (!reasons.is_empty()).then(|| reasons.join("; ")),
    }
}

async fn set_maintenance(
    context: &Context,
    desired: &Desired,
    observed: &Observed,
    ids: &[BrokerId],
    on: bool,
) -> Result<()> {
    let endpoints = observed.endpoints(ids);
    if endpoints.is_empty() {
        return Err(Error::NoBrokerAnswers(desired.name.clone()));
    }
    for id in ids {
        let mut last = None;
        for endpoint in &endpoints {
            match context
                .config
                .admin
                .set_maintenance(endpoint, *id, on)
                .await
            {
                Ok(()) => {
                    last = None;
                    break;
                }
                Err(error) => last = Some(error),
            }
        }
        if let Some(error) = last {
            return Err(error);
        }
        info!(cluster = %desired.name, broker = id.0, on, "maintenance set");
    }
    Ok(())
}

/// Deletes the Pods of `ids`, each only if it is still the Pod observed
/// (uid precondition): a recreated Pod is never deleted by mistake.
async fn delete_pods(
    context: &Context,
    cluster: &StreamCluster,
    desired: &Desired,
    observed: &Observed,
    ids: &[BrokerId],
) -> Result<()> {
    let pods: Api<Pod> = Api::namespaced(context.client.clone(), &desired.namespace);
    for id in ids {
        let name = pod_name(&desired.name, *id);
        let uid = observed.pods.get(id).and_then(|pod| pod.uid.clone());
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                uid,
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        match pods.delete(&name, &params).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => {
                debug!(pod = %name, "already deleted or replaced");
            }
            Err(error) => return Err(error.into()),
        }
        let note = format!(
            "deleted Pod {name} to restart broker {} at revision {}",
            id.0, desired.revision
        );
        notice(
            context,
            cluster,
            Notice::normal("BrokerRestarting", "Restarting", note),
        )
        .await;
    }
    Ok(())
}

/// Events for what changed between the recorded and the new progress.
async fn announce(
    context: &Context,
    cluster: &StreamCluster,
    desired: &Desired,
    old: Option<&RollProgress>,
    new: Option<&RollProgress>,
    override_gates: bool,
) {
    let mut notices = Vec::new();
    match (old, new) {
        (None, Some(_)) => notices.push(Notice::normal(
            "RollStarted",
            "Rolling",
            format!(
                "restarting brokers one unit at a time onto version {} (revision {})",
                desired.version, desired.revision
            ),
        )),
        (Some(_), None) => notices.push(Notice::normal(
            "RollCompleted",
            "Rolling",
            format!(
                "every broker runs version {} (revision {})",
                desired.version, desired.revision
            ),
        )),
        (Some(old), Some(new)) if old.target_revision != new.target_revision => {
            notices.push(Notice::normal(
                "RollRetargeted",
                "Rolling",
                format!(
                    "the target changed to version {} (revision {}) during the roll",
                    desired.version, desired.revision
                ),
            ))
        }
        _ => {}
    }
    if let Some(new) = new {
        let unit_changed = old.is_none_or(|old| old.current != new.current || old.rack != new.rack);
        let unit = match (&new.current, &new.rack) {
            (Some(id), _) => Some(format!("broker {id}")),
            (None, Some(rack)) => Some(format!("the brokers of rack {rack}")),
            _ => None,
        };
        if let (true, Some(unit)) = (unit_changed, &unit) {
            notices.push(Notice::normal(
                "RestartingBroker",
                "Rolling",
                format!("next: {unit}"),
            ));
            if override_gates {
                notices.push(Notice::warning(
                    "OverrideUsed",
                    "Rolling",
                    format!("{OVERRIDE_ANNOTATION} names this revision: restarting {unit} without the health gates"),
                ));
            }
        }
        let was_paused = old.and_then(|old| old.paused_reason.as_ref());
        match (&new.paused_reason, was_paused) {
            (Some(reason), None) => {
                notices.push(Notice::warning("RollPaused", "Rolling", reason.clone()))
            }
            (None, Some(_)) => notices.push(Notice::normal(
                "RollResumed",
                "Rolling",
                "the condition the roll waited for holds again".into(),
            )),
            _ => {}
        }
    }
    for item in notices {
        notice(context, cluster, item).await;
    }
}
