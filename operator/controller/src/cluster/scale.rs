//! Removing brokers (docs/operator.md, "Scaling"): never by just shrinking
//! the StatefulSet. The highest broker above `spec.brokers` is decommissioned
//! first (its replicas move away); only once it hosts nothing does the
//! rendered count drop by one, and once its Pod is gone the brokers forget
//! it. Every step is derived from what the brokers report, so a restarted
//! operator repeats idempotent calls.

use fjord_crd::StreamCluster;
use fjord_metadata::BrokerId;

use super::executor::Notice;
use super::observe::Observed;
use super::reconcile::{Context, notice};
use super::status::Problem;
use crate::Result;

/// What scaling down allows this reconcile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ScaleDown {
    /// The broker count to render.
    pub(super) brokers: u16,
    /// Why the cluster keeps more brokers than declared, when it does.
    pub(super) problem: Option<Problem>,
    /// What the scale-down waits for, when it is under way.
    pub(super) waiting: Option<String>,
}

/// Decides how many brokers to render when `spec.brokers` is below the
/// `running` brokers, starting or following the highest one's decommission.
/// `observed` is the cluster as rendered with `running` brokers.
pub(super) async fn scale_down(
    context: &Context,
    cluster: &StreamCluster,
    running: u16,
    voters: &[BrokerId],
    rolling: bool,
    observed: &Observed,
) -> Result<ScaleDown> {
    let declared = cluster.spec.brokers;
    assert!(declared < running, "called only to remove brokers");
    let keep = |problem: Option<Problem>, waiting: Option<String>| ScaleDown {
        brokers: running,
        problem,
        waiting,
    };
    if let Some(voter) = voters.iter().find(|id| id.0 > u32::from(declared)) {
        return Ok(keep(
            Some(Problem {
                reason: "ScaleDownRefused",
                message: format!(
                    "spec.brokers {declared} would remove broker {}, a controller voter; \
                     the cluster keeps {running} brokers",
                    voter.0
                ),
            }),
            None,
        ));
    }
    if rolling {
        return Ok(keep(
            None,
            Some("removing brokers waits for the roll".into()),
        ));
    }
    let leaving = BrokerId(u32::from(running));
    let Some(endpoint) = observed.endpoints(&[leaving]).into_iter().next() else {
        return Ok(keep(
            None,
            Some("no broker serves to decommission through".into()),
        ));
    };
    let admin = context.config.admin.as_ref();
    let state = admin.decommission(&endpoint, leaving).await?;
    match state {
        // Not registered: nothing to move.
        None => Ok(keep_fewer(running)),
        Some(state) if !state.decommissioning => {
            let started = admin.start_decommission(&endpoint, leaving).await?;
            let note = format!(
                "moving {} partition replicas off broker {} before removing it",
                started.replicas, leaving.0
            );
            notice(
                context,
                cluster,
                Notice::normal("DecommissioningBroker", "Scaling", note),
            )
            .await;
            Ok(keep(
                None,
                Some(format!("broker {} is being decommissioned", leaving.0)),
            ))
        }
        Some(state) if state.replicas > 0 => Ok(keep(
            None,
            Some(format!(
                "broker {} still hosts {} partition replicas",
                leaving.0, state.replicas
            )),
        )),
        Some(_) => {
            let note = format!("broker {} hosts nothing; removing its Pod", leaving.0);
            notice(
                context,
                cluster,
                Notice::normal("RemovingBroker", "Scaling", note),
            )
            .await;
            Ok(keep_fewer(running))
        }
    }
}

fn keep_fewer(running: u16) -> ScaleDown {
    ScaleDown {
        brokers: running - 1,
        problem: None,
        waiting: Some(format!("removing broker {running}")),
    }
}

/// Has the brokers forget every broker above the declared count whose Pod is
/// gone (it was decommissioned before its Pod was removed).
pub(super) async fn forget_removed(
    context: &Context,
    cluster: &StreamCluster,
    declared: u16,
    observed: &Observed,
) -> Result<()> {
    let Some(health) = &observed.health else {
        return Ok(());
    };
    let gone: Vec<BrokerId> = health
        .brokers
        .iter()
        .map(|broker| BrokerId(broker.id))
        .filter(|id| id.0 > u32::from(declared))
        .filter(|id| {
            !observed
                .extra_pods
                .iter()
                .any(|pod| super::render::broker_of_pod(&cluster_name(cluster), pod) == Some(*id))
        })
        .collect();
    for id in gone {
        let Some(endpoint) = observed.endpoints(&[id]).into_iter().next() else {
            return Ok(());
        };
        if context.config.admin.remove_broker(&endpoint, id).await? {
            let note = format!(
                "broker {} is decommissioned and stopped; the brokers forgot it",
                id.0
            );
            notice(
                context,
                cluster,
                Notice::normal("BrokerRemoved", "Scaling", note),
            )
            .await;
        }
    }
    Ok(())
}

fn cluster_name(cluster: &StreamCluster) -> String {
    kube::ResourceExt::name_any(cluster)
}
