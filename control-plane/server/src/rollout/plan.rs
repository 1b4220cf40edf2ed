//! The rollout planner: a pure function from the rollout's clusters, as
//! recorded and as reported, to what to do next. No I/O, so every rule is
//! a plain unit test.
//!
//! Rules, in order:
//! 1. An in-progress cluster that reports phase `failed` has failed, and so
//!    has one whose desired version was changed outside the rollout, and one
//!    whose operator paused its roll (a `Degraded` condition with reason
//!    `RollPaused`: a restarted broker did not serve again within the
//!    health timeout; its message is the reason); one that reports phase
//!    `ready` at the target version has succeeded.
//! 2. Any failed cluster halts the rollout (nothing new starts).
//! 3. Waves go strictly in order: the current wave is the first with a
//!    cluster not yet succeeded. When there is none, the rollout is done.
//! 4. Pending clusters of the current wave start, until `max_in_flight`
//!    clusters are in progress.

use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MemberState {
    Pending,
    InProgress,
    Succeeded,
    Failed,
}

impl MemberState {
    pub(crate) fn parse(value: &str) -> Option<Self> {
        match value {
            "pending" => Some(Self::Pending),
            "in-progress" => Some(Self::InProgress),
            "succeeded" => Some(Self::Succeeded),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// A cluster in the rollout.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub cluster_id: Uuid,
    pub wave: i32,
    pub state: MemberState,
    /// The cluster's desired version now.
    pub desired_version: String,
    /// Reported by the agent.
    pub phase: String,
    pub observed_version: Option<String>,
    /// Why the operator paused the cluster's roll, when it did
    /// ([`roll_paused`] of the reported conditions).
    pub roll_paused: Option<String>,
}

/// The message of a reported `Degraded` condition that holds with reason
/// `RollPaused`; `conditions` as the agent reports them (a JSON list of
/// `{type, status, reason, message}`).
pub(crate) fn roll_paused(conditions: &serde_json::Value) -> Option<String> {
    conditions.as_array()?.iter().find_map(|condition| {
        (condition["type"] == "Degraded"
            && condition["status"] == "True"
            && condition["reason"] == "RollPaused")
            .then(|| condition["message"].as_str().unwrap_or_default().to_owned())
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Progress {
    Continue,
    Halt(String),
    Done,
}

/// What the driver must do now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Step {
    pub succeeded: Vec<Uuid>,
    pub failed: Vec<(Uuid, String)>,
    pub start: Vec<Uuid>,
    pub progress: Progress,
}

pub(crate) fn plan(target_version: &str, max_in_flight: usize, members: &[Member]) -> Step {
    assert!(
        max_in_flight >= 1,
        "max_in_flight is validated to be at least 1"
    );
    let mut members = members.to_vec();
    let mut step = Step {
        succeeded: Vec::new(),
        failed: Vec::new(),
        start: Vec::new(),
        progress: Progress::Continue,
    };
    for member in members
        .iter_mut()
        .filter(|m| m.state == MemberState::InProgress)
    {
        if member.desired_version != target_version {
            member.state = MemberState::Failed;
            let reason = format!(
                "desired version changed to {} outside the rollout",
                member.desired_version
            );
            step.failed.push((member.cluster_id, reason));
        } else if member.phase == "failed" {
            member.state = MemberState::Failed;
            step.failed.push((
                member.cluster_id,
                "cluster reported phase failed".to_owned(),
            ));
        } else if let Some(message) = &member.roll_paused {
            member.state = MemberState::Failed;
            step.failed
                .push((member.cluster_id, format!("roll paused: {message}")));
        } else if member.phase == "ready"
            && member.observed_version.as_deref() == Some(target_version)
        {
            member.state = MemberState::Succeeded;
            step.succeeded.push(member.cluster_id);
        }
    }
    let failed: Vec<String> = members
        .iter()
        .filter(|m| m.state == MemberState::Failed)
        .map(
            |m| match step.failed.iter().find(|(id, _)| *id == m.cluster_id) {
                Some((_, reason)) => format!("{} ({reason})", m.cluster_id),
                None => m.cluster_id.to_string(),
            },
        )
        .collect();
    if !failed.is_empty() {
        step.progress = Progress::Halt(format!("clusters failed: {}", failed.join(", ")));
        return step;
    }
    let Some(wave) = members
        .iter()
        .filter(|m| m.state != MemberState::Succeeded)
        .map(|m| m.wave)
        .min()
    else {
        step.progress = Progress::Done;
        return step;
    };
    let in_flight = members
        .iter()
        .filter(|m| m.state == MemberState::InProgress)
        .count();
    step.start = members
        .iter()
        .filter(|m| m.wave == wave && m.state == MemberState::Pending)
        .take(max_in_flight.saturating_sub(in_flight))
        .map(|m| m.cluster_id)
        .collect();
    assert!(in_flight + step.start.len() <= max_in_flight.max(in_flight));
    step
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(n: u128, wave: i32, state: MemberState, phase: &str, version: &str) -> Member {
        let desired = if state == MemberState::Pending {
            "1.0.0"
        } else {
            "2.0.0"
        };
        Member {
            cluster_id: Uuid::from_u128(n),
            wave,
            state,
            desired_version: desired.to_owned(),
            phase: phase.to_owned(),
            observed_version: Some(version.to_owned()),
            roll_paused: None,
        }
    }

    use MemberState::*;

    #[test]
    fn the_first_wave_starts_up_to_max_in_flight() {
        let members = [
            member(1, 0, Pending, "ready", "1.0.0"),
            member(2, 0, Pending, "ready", "1.0.0"),
            member(3, 0, Pending, "ready", "1.0.0"),
            member(4, 1, Pending, "ready", "1.0.0"),
        ];
        let step = plan("2.0.0", 2, &members);
        assert_eq!(step.start, [Uuid::from_u128(1), Uuid::from_u128(2)]);
        assert_eq!(step.progress, Progress::Continue);
    }

    #[test]
    fn the_next_wave_waits_until_the_current_one_succeeded() {
        let members = [
            member(1, 0, InProgress, "upgrading", "1.0.0"),
            member(2, 1, Pending, "ready", "1.0.0"),
        ];
        let step = plan("2.0.0", 5, &members);
        assert!(step.start.is_empty(), "wave 1 must wait: {step:?}");
        let members = [
            member(1, 0, InProgress, "ready", "2.0.0"),
            member(2, 1, Pending, "ready", "1.0.0"),
        ];
        let step = plan("2.0.0", 5, &members);
        assert_eq!(step.succeeded, [Uuid::from_u128(1)]);
        assert_eq!(step.start, [Uuid::from_u128(2)]);
    }

    #[test]
    fn a_ready_cluster_still_on_the_old_version_is_not_done() {
        let members = [member(1, 0, InProgress, "ready", "1.0.0")];
        let step = plan("2.0.0", 1, &members);
        assert!(step.succeeded.is_empty() && step.start.is_empty());
        assert_eq!(step.progress, Progress::Continue);
    }

    #[test]
    fn a_failed_cluster_halts_the_rollout_and_starts_nothing() {
        let members = [
            member(1, 0, InProgress, "failed", "1.0.0"),
            member(2, 0, Pending, "ready", "1.0.0"),
        ];
        let step = plan("2.0.0", 5, &members);
        assert_eq!(step.failed.len(), 1);
        assert!(step.start.is_empty());
        assert!(
            matches!(step.progress, Progress::Halt(reason) if reason.contains(&Uuid::from_u128(1).to_string()))
        );
    }

    #[test]
    fn a_version_changed_outside_the_rollout_fails_the_cluster() {
        let mut changed = member(1, 0, InProgress, "ready", "1.5.0");
        changed.desired_version = "1.5.0".to_owned();
        let step = plan("2.0.0", 1, &[changed]);
        assert_eq!(step.failed.len(), 1);
        assert!(step.failed[0].1.contains("1.5.0"));
        assert!(matches!(step.progress, Progress::Halt(_)));
    }

    #[test]
    fn a_paused_roll_fails_the_cluster_with_the_operators_reason() {
        let conditions = serde_json::json!([
            {"type": "Ready", "status": "False", "reason": "BrokersUnready", "message": "2 of 3"},
            {"type": "Degraded", "status": "True", "reason": "RollPaused",
             "message": "broker 3 did not serve again within 60s"},
        ]);
        let mut paused = member(1, 0, InProgress, "degraded", "1.0.0");
        paused.roll_paused = roll_paused(&conditions);
        let step = plan(
            "2.0.0",
            1,
            &[paused, member(2, 1, Pending, "ready", "1.0.0")],
        );
        assert_eq!(step.failed.len(), 1);
        assert!(step.start.is_empty());
        let Progress::Halt(reason) = step.progress else {
            panic!("not halted: {step:?}");
        };
        assert!(reason.contains("broker 3 did not serve again"), "{reason}");
    }

    #[test]
    fn a_degraded_cluster_whose_roll_is_not_paused_is_still_in_progress() {
        let conditions = serde_json::json!([
            {"type": "Degraded", "status": "True", "reason": "BrokersUnready", "message": "x"},
            {"type": "Degraded", "status": "False", "reason": "RollPaused", "message": "old"},
        ]);
        assert_eq!(roll_paused(&conditions), None);
        let step = plan("2.0.0", 1, &[member(1, 0, InProgress, "degraded", "1.0.0")]);
        assert!(step.failed.is_empty());
        assert_eq!(step.progress, Progress::Continue);
    }

    #[test]
    fn all_succeeded_is_done() {
        let members = [
            member(1, 0, Succeeded, "ready", "2.0.0"),
            member(2, 1, InProgress, "ready", "2.0.0"),
        ];
        let step = plan("2.0.0", 1, &members);
        assert_eq!(step.progress, Progress::Done);
        assert_eq!(step.succeeded, [Uuid::from_u128(2)]);
    }
}
