//! The `StreamCluster` status the controller writes (by server-side apply
//! on the status subresource): a pure function of what it observed, the
//! roll progress and the previous status (for condition transition times).

use chrono::{DateTime, Utc};
use fjord_crd::{
    BrokerState, BrokerStatus, Condition, ConditionStatus, ConditionType, RollProgress, RollStep,
    StreamClusterPhase, StreamClusterStatus,
};
use fjord_metadata::BrokerId;

use super::observe::Observed;
use super::render::{Desired, pod_name};
use super::roll::PodView;
use super::roll::timestamp;

/// Why the cluster needs attention, if it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// CamelCase reason: `InvalidSpec`, `RollPaused`, `BrokersUnready`, ...
    pub reason: &'static str,
    pub message: String,
}

/// Everything the status is computed from.
#[derive(Debug)]
pub struct StatusInput<'a> {
    pub generation: Option<i64>,
    pub previous: Option<&'a StreamClusterStatus>,
    /// `None` when the spec did not validate.
    pub desired: Option<&'a Desired>,
    pub observed: &'a Observed,
    pub roll: Option<&'a RollProgress>,
    pub voters: &'a [BrokerId],
    pub problem: Option<Problem>,
    /// What a scale-down waits for, while one is under way.
    pub waiting: Option<String>,
    pub paused: bool,
    pub now: DateTime<Utc>,
}

/// The status to apply.
pub fn status(input: &StatusInput<'_>) -> StreamClusterStatus {
    let previous = input.previous.cloned().unwrap_or_default();
    let observed = input.observed;
    let declared = input
        .desired
        .map_or(0, |desired| usize::from(desired.brokers));
    let ready = observed.ready_count();
    let all_ready = declared > 0 && ready == declared;
    let problem = input.problem.clone().or_else(|| {
        input
            .roll
            .and_then(|roll| roll.paused_reason.clone())
            .map(|message| Problem {
                reason: "RollPaused",
                message,
            })
    });
    let rolling = input.roll.is_some();
    let all_current = input.desired.is_some_and(|desired| {
        observed.brokers.len() == declared
            && observed.brokers.iter().all(|broker| {
                matches!(&broker.pod, PodView::Present { revision: Some(r), .. } if *r == desired.revision)
            })
    });
    let progressing =
        !input.paused && (rolling || input.waiting.is_some() || !all_ready || !all_current);
    let phase = if problem.is_some() {
        StreamClusterPhase::Degraded
    } else if rolling {
        StreamClusterPhase::Upgrading
    } else if all_ready {
        StreamClusterPhase::Ready
    } else if ready == 0 {
        StreamClusterPhase::Provisioning
    } else {
        StreamClusterPhase::Degraded
    };
    let (progress_reason, progress_message) = if let Some(waiting) = &input.waiting {
        ("Scaling", waiting.clone())
    } else if rolling {
        (
            "Rolling",
            "restarting brokers onto a new version or configuration".to_owned(),
        )
    } else if progressing {
        ("Creating", format!("{ready} of {declared} brokers ready"))
    } else {
        ("Settled", "nothing to change".to_owned())
    };
    let mut conditions = Vec::new();
    let generation = input.generation;
    let mut push = |kind: ConditionType, holds: bool, reason: &str, message: String| {
        conditions.push(condition(
            &previous, kind, holds, reason, message, generation, input.now,
        ));
    };
    push(
        ConditionType::Ready,
        all_ready,
        if all_ready {
            "BrokersReady"
        } else {
            "BrokersUnready"
        },
        format!("{ready} of {declared} brokers ready"),
    );
    push(
        ConditionType::Progressing,
        progressing,
        progress_reason,
        progress_message,
    );
    match &problem {
        Some(problem) => push(
            ConditionType::Degraded,
            true,
            problem.reason,
            problem.message.clone(),
        ),
        None => push(
            ConditionType::Degraded,
            false,
            "Healthy",
            "nothing needs attention".to_owned(),
        ),
    }
    let stable = all_ready && !progressing && problem.is_none();
    push(
        ConditionType::Stable,
        stable,
        if stable { "Stable" } else { "NotStable" },
        if stable {
            "ready, not changing, observed the latest generation".to_owned()
        } else {
            "wait for Ready and not Progressing".to_owned()
        },
    );
    let current_version = match input.desired {
        Some(desired) if all_current && !rolling => Some(desired.version.clone()),
        _ => previous.current_version.clone(),
    };
    StreamClusterStatus {
        observed_generation: input.generation,
        phase,
        current_version,
        ready_brokers: u16::try_from(ready).unwrap_or(u16::MAX),
        bootstrap_address: input
            .desired
            .map(Desired::bootstrap_address)
            .or(previous.bootstrap_address.clone()),
        brokers: brokers(input),
        controller_voters: input.voters.iter().map(|id| id.0).collect(),
        roll: input.roll.cloned(),
        conditions,
    }
}

fn brokers(input: &StatusInput<'_>) -> Vec<BrokerStatus> {
    let Some(desired) = input.desired else {
        return input
            .previous
            .map(|p| p.brokers.clone())
            .unwrap_or_default();
    };
    let restarting = |id: BrokerId| {
        input.roll.is_some_and(|roll| {
            roll.current == Some(id.0)
                && matches!(roll.step, Some(RollStep::DeletePod | RollStep::WaitServing))
        })
    };
    input
        .observed
        .brokers
        .iter()
        .map(|broker| {
            let state = match &broker.pod {
                PodView::Missing => BrokerState::Pending,
                PodView::Terminating => BrokerState::Restarting,
                _ if restarting(broker.id) && !broker.up() => BrokerState::Restarting,
                _ if broker.maintenance => BrokerState::Maintenance,
                PodView::Present { ready: true, .. } => BrokerState::Serving,
                PodView::Present { .. } => BrokerState::Starting,
            };
            BrokerStatus {
                id: broker.id.0,
                pod: pod_name(&desired.name, broker.id),
                version: input
                    .observed
                    .pods
                    .get(&broker.id)
                    .and_then(|pod| pod.version.clone()),
                state,
                rack: broker.rack.clone(),
            }
        })
        .collect()
}

/// A condition, keeping the previous transition time when its status is unchanged.
fn condition(
    previous: &StreamClusterStatus,
    kind: ConditionType,
    holds: bool,
    reason: &str,
    message: String,
    generation: Option<i64>,
    now: DateTime<Utc>,
) -> Condition {
    let status = if holds {
        ConditionStatus::True
    } else {
        ConditionStatus::False
    };
    let last_transition_time = previous
        .conditions
        .iter()
        .find(|c| c.condition_type == kind.as_str() && c.status == status)
        .map_or_else(|| timestamp(now), |c| c.last_transition_time.clone());
    Condition {
        condition_type: kind.as_str().to_owned(),
        status,
        observed_generation: generation,
        last_transition_time,
        reason: reason.to_owned(),
        message,
    }
}

/// The condition of `kind` in `status`, if any.
pub fn find(status: &StreamClusterStatus, kind: ConditionType) -> Option<&Condition> {
    status
        .conditions
        .iter()
        .find(|c| c.condition_type == kind.as_str())
}
