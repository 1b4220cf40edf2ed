//! The rolling-upgrade planner: a pure function from what the API server and
//! the brokers show, plus the recorded progress, to the one next action and
//! the progress to record before acting (docs/operator.md, "Rolling
//! upgrades"). No I/O: the reconciler executes the action.
//!
//! The rule it never breaks: it never makes a broker unavailable while
//! another is unavailable. Pods are deleted only for members of the recorded
//! unit; a member that is up (its Pod ready) is deleted only while every
//! broker outside the unit is up and serving and the restart probe said the
//! restart is safe, unless the override names the target revision. A member
//! that is down already may be deleted at any time: that takes nothing away.

mod order;
mod step;

#[cfg(test)]
mod model_test;
#[cfg(test)]
mod resume_test;
#[cfg(test)]
mod roll_test;

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use fjord_crd::{RollProgress, RollStep, RolloutStrategy};
use fjord_metadata::BrokerId;

/// A broker's Pod as the API server shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodView {
    /// No Pod (the StatefulSet controller has yet to create it).
    Missing,
    /// Being deleted.
    Terminating,
    /// Exists: the revision it was created from, and whether it is ready.
    Present {
        revision: Option<String>,
        ready: bool,
    },
}

/// One declared broker as observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerView {
    pub id: BrokerId,
    pub pod: PodView,
    /// The brokers' health shows it serving (caught up, unfenced).
    pub serving: bool,
    /// In maintenance mode (per the brokers' health).
    pub maintenance: bool,
    /// Partitions it leads.
    pub leaderships: usize,
    /// Its rack (its node's topology label), if known.
    pub rack: Option<String>,
}

impl BrokerView {
    /// Its Pod exists, is not being deleted, and is ready.
    pub fn up(&self) -> bool {
        matches!(self.pod, PodView::Present { ready: true, .. })
    }

    /// Up, and serving per the brokers' health.
    fn healthy(&self) -> bool {
        self.up() && self.serving
    }

    /// Its Pod exists (not being deleted) and was made from another revision.
    pub fn stale(&self, target: &str) -> bool {
        matches!(&self.pod, PodView::Present { revision, .. } if revision.as_deref() != Some(target))
    }

    /// Its Pod exists at the target revision.
    fn at(&self, target: &str) -> bool {
        matches!(&self.pod, PodView::Present { revision: Some(revision), .. } if revision == target)
    }
}

/// What a serving broker's `/v1/cluster/health` said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthView {
    /// Every broker serving, every partition fully in sync, a controller leader.
    pub healthy: bool,
    /// The controller group's leader.
    pub controller: Option<BrokerId>,
}

/// The rollout policy, from `spec.rollout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub strategy: RolloutStrategy,
    pub health_timeout: Duration,
    pub pause: Duration,
}

/// The restart probe's answer about `brokers` (each asked in turn; safe only
/// if every one was).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeAnswer {
    pub brokers: Vec<BrokerId>,
    /// `None`: safe; else why not.
    pub unsafe_reason: Option<String>,
}

/// Everything the planner looks at.
#[derive(Debug, Clone)]
pub struct RollInput<'a> {
    /// The desired revision.
    pub target: &'a str,
    /// Every declared broker, by id.
    pub brokers: &'a [BrokerView],
    /// The brokers' health; `None` when no broker answered.
    pub health: Option<&'a HealthView>,
    pub policy: Policy,
    /// `status.roll` as recorded.
    pub progress: Option<&'a RollProgress>,
    /// The override annotation names `target`.
    pub override_gates: bool,
    /// The restart probe's answer, when the previous plan asked for it.
    pub probe: Option<&'a ProbeAnswer>,
    pub now: DateTime<Utc>,
}

/// The next thing to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Nothing to roll, nothing left over.
    Idle,
    /// Ask the restart probe about these brokers, then plan again with the answer.
    Probe(Vec<BrokerId>),
    /// Put these brokers in maintenance (move their leaderships away).
    EnterMaintenance(Vec<BrokerId>),
    /// Delete these brokers' Pods (the StatefulSet recreates them at the target).
    DeletePods(Vec<BrokerId>),
    /// Take these brokers out of maintenance.
    ExitMaintenance(Vec<BrokerId>),
    /// Nothing to do now; look again soon. Says what the roll waits for.
    Wait(String),
}

/// The planner's answer: record `progress` (in `status.roll`), then do `action`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub action: Action,
    /// `None`: no roll in progress.
    pub progress: Option<RollProgress>,
}

/// Plans the next action of the roll to `input.target`.
pub fn plan(input: &RollInput<'_>) -> Plan {
    let mut progress = retarget(input);
    let members = progress
        .as_ref()
        .map(|progress| step::members(input, progress))
        .unwrap_or_default();
    let leftover: Vec<BrokerId> = input
        .brokers
        .iter()
        .filter(|broker| broker.maintenance && !members.contains(&broker.id))
        .map(|broker| broker.id)
        .collect();
    if !leftover.is_empty() {
        return Plan {
            action: Action::ExitMaintenance(leftover),
            progress,
        };
    }
    // Each pass either returns or moves the unit one step on; a unit has
    // six steps, and choosing a unit happens at most twice.
    for _ in 0..16 {
        let recorded = progress.get_or_insert_with(|| fresh(input.target, input.now));
        let has_unit = recorded.current.is_some() || recorded.rack.is_some();
        let outcome = if has_unit {
            step::advance(input, recorded)
        } else {
            order::choose(input, recorded)
        };
        match outcome {
            Outcome::Act(action) => {
                if let Action::DeletePods(deleted) = &action {
                    check_deletion(input, recorded, deleted);
                }
                return Plan { action, progress };
            }
            Outcome::Finished => {
                return Plan {
                    action: Action::Idle,
                    progress: None,
                };
            }
            Outcome::Moved => {}
        }
    }
    unreachable!("a roll plan takes at most 16 passes")
}

/// What one pass over the recorded progress came to.
#[derive(Debug)]
enum Outcome {
    /// Do this (the progress, possibly changed, is recorded first).
    Act(Action),
    /// The progress moved on; plan again from it.
    Moved,
    /// Nothing is stale: the roll is over.
    Finished,
}

/// The recorded progress, carried over to a changed target: a unit whose
/// Pods are being recreated keeps going (the StatefulSet recreates them at
/// the newest template); any other is dropped and the roll starts over.
fn retarget(input: &RollInput<'_>) -> Option<RollProgress> {
    let recorded = input.progress?;
    if recorded.target_revision == input.target {
        return Some(recorded.clone());
    }
    let in_flight = (recorded.current.is_some() || recorded.rack.is_some())
        && matches!(
            recorded.step,
            Some(RollStep::DeletePod | RollStep::WaitServing)
        );
    if in_flight {
        let mut kept = recorded.clone();
        kept.target_revision = input.target.to_owned();
        kept.done.clear();
        kept.paused_reason = None;
        Some(kept)
    } else {
        Some(fresh(input.target, input.now))
    }
}

/// A roll with nothing done and no unit.
fn fresh(target: &str, now: DateTime<Utc>) -> RollProgress {
    RollProgress {
        target_revision: target.to_owned(),
        done: Vec::new(),
        current: None,
        rack: None,
        step: None,
        step_started_at: Some(timestamp(now)),
        paused_reason: None,
    }
}

/// RFC 3339, as recorded in `stepStartedAt`.
pub fn timestamp(now: DateTime<Utc>) -> String {
    now.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// How long the recorded step has lasted (zero if the record is unreadable).
fn elapsed(progress: &RollProgress, now: DateTime<Utc>) -> Duration {
    progress
        .step_started_at
        .as_deref()
        .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
        .and_then(|started| (now - started.with_timezone(&Utc)).to_std().ok())
        .unwrap_or_default()
}

/// The invariants of a deletion (docs/operator.md, "Invariants asserted in
/// code"): only members of the recorded unit, only stale Pods, and a member
/// that is up only while every other broker is healthy or the override is on.
fn check_deletion(input: &RollInput<'_>, progress: &RollProgress, deleted: &[BrokerId]) {
    let members = step::members(input, progress);
    assert!(!deleted.is_empty(), "a deletion names a broker");
    for id in deleted {
        assert!(members.contains(id), "broker {id:?} is not in the unit");
        assert!(
            !progress.done.contains(&id.0),
            "broker {id:?} is already done"
        );
        let broker = input
            .brokers
            .iter()
            .find(|broker| broker.id == *id)
            .expect("members are declared brokers");
        assert!(broker.stale(input.target), "broker {id:?} is not stale");
    }
    let takes_one_down = input
        .brokers
        .iter()
        .any(|broker| deleted.contains(&broker.id) && broker.up());
    if takes_one_down && !input.override_gates {
        assert!(
            input
                .brokers
                .iter()
                .filter(|broker| !members.contains(&broker.id))
                .all(BrokerView::healthy),
            "a broker outside the unit is down"
        );
    }
}
