//! The steps of one unit (a broker, or a rack's brokers): each moves on only
//! when the API server or the brokers show the previous step's effect.
//!
//! ```text
//! Probe -> EnterMaintenance -> DeletePod -> WaitServing -> ExitMaintenance -> (Pause, next unit)
//! ```

use fjord_crd::{RollProgress, RollStep};
use fjord_metadata::BrokerId;

use super::{Action, BrokerView, Outcome, RollInput, elapsed, timestamp};

/// The brokers of the recorded unit: `current`, or every declared broker
/// of `rack` not yet done.
pub(super) fn members(input: &RollInput<'_>, progress: &RollProgress) -> Vec<BrokerId> {
    if let Some(current) = progress.current {
        return input
            .brokers
            .iter()
            .filter(|broker| broker.id.0 == current)
            .map(|broker| broker.id)
            .collect();
    }
    let Some(rack) = &progress.rack else {
        return Vec::new();
    };
    input
        .brokers
        .iter()
        .filter(|broker| {
            broker.rack.as_ref() == Some(rack) && !progress.done.contains(&broker.id.0)
        })
        .map(|broker| broker.id)
        .collect()
}

/// One step of the recorded unit.
pub(super) fn advance(input: &RollInput<'_>, progress: &mut RollProgress) -> Outcome {
    let ids = members(input, progress);
    if ids.is_empty() {
        // Its brokers were removed (scaled away) or are all done.
        end_unit(progress, input, &[]);
        return Outcome::Moved;
    }
    let units: Vec<&BrokerView> = input
        .brokers
        .iter()
        .filter(|broker| ids.contains(&broker.id))
        .collect();
    let others: Vec<&BrokerView> = input
        .brokers
        .iter()
        .filter(|broker| !ids.contains(&broker.id))
        .collect();
    let up: Vec<BrokerId> = units.iter().filter(|b| b.up()).map(|b| b.id).collect();
    let gate_closed = || -> Option<String> {
        if input.override_gates {
            return None;
        }
        let down: Vec<String> = others
            .iter()
            .filter(|broker| !broker.healthy())
            .map(|broker| broker.id.0.to_string())
            .collect();
        (!down.is_empty()).then(|| format!("broker {} is not serving", down.join(", ")))
    };
    match progress.step.unwrap_or(RollStep::Probe) {
        RollStep::Probe => {
            if up.is_empty() || input.override_gates {
                return moved(progress, input, RollStep::EnterMaintenance);
            }
            if let Some(reason) = gate_closed() {
                return wait(progress, input, &ids, reason);
            }
            match input.probe {
                Some(answer) if answer.brokers == up => match &answer.unsafe_reason {
                    None => moved(progress, input, RollStep::EnterMaintenance),
                    Some(reason) => wait(progress, input, &ids, format!("restart probe: {reason}")),
                },
                _ => Outcome::Act(Action::Probe(up)),
            }
        }
        RollStep::EnterMaintenance => {
            let entering: Vec<BrokerId> = units
                .iter()
                .filter(|b| b.up() && !b.maintenance)
                .map(|b| b.id)
                .collect();
            if !entering.is_empty() {
                return Outcome::Act(Action::EnterMaintenance(entering));
            }
            let leading: Vec<String> = units
                .iter()
                .filter(|b| b.up() && b.leaderships > 0)
                .map(|b| b.id.0.to_string())
                .collect();
            if leading.is_empty() || input.override_gates {
                moved(progress, input, RollStep::DeletePod)
            } else {
                let reason = format!("broker {} still leads partitions", leading.join(", "));
                wait(progress, input, &ids, reason)
            }
        }
        RollStep::DeletePod => {
            let stale: Vec<&&BrokerView> = units.iter().filter(|b| b.stale(input.target)).collect();
            if stale.is_empty() {
                return moved(progress, input, RollStep::WaitServing);
            }
            if stale.iter().any(|b| b.up())
                && let Some(reason) = gate_closed()
            {
                return wait(progress, input, &ids, reason);
            }
            Outcome::Act(Action::DeletePods(stale.iter().map(|b| b.id).collect()))
        }
        RollStep::WaitServing => {
            if units.iter().any(|b| b.stale(input.target)) {
                // Recreated from an older template (the target moved on).
                return moved(progress, input, RollStep::DeletePod);
            }
            let back = units.iter().all(|b| b.at(input.target) && b.up());
            let nobody_else_up = !others.is_empty() && others.iter().all(|b| !b.up());
            // With a broker outside the unit down the cluster cannot be
            // healthy; the next restart of a broker that is up is gated on
            // the others anyway, so the members serving is enough then.
            let healthy = input.override_gates
                || (units.iter().all(|b| b.serving)
                    && (input.health.is_some_and(|h| h.healthy) || others.iter().any(|b| !b.up())));
            if (back && healthy) || (nobody_else_up && units.iter().all(|b| b.at(input.target))) {
                return moved(progress, input, RollStep::ExitMaintenance);
            }
            let reason = if back {
                "the cluster is not healthy yet (a broker catching up or partitions under-replicated)"
                    .to_owned()
            } else {
                let names: Vec<String> = units
                    .iter()
                    .filter(|b| !(b.at(input.target) && b.up()))
                    .map(|b| b.id.0.to_string())
                    .collect();
                format!("broker {} is not ready yet", names.join(", "))
            };
            wait(progress, input, &ids, reason)
        }
        RollStep::ExitMaintenance => {
            let leaving: Vec<BrokerId> = units
                .iter()
                .filter(|b| b.maintenance)
                .map(|b| b.id)
                .collect();
            if leaving.is_empty() {
                end_unit(progress, input, &ids);
                Outcome::Moved
            } else {
                Outcome::Act(Action::ExitMaintenance(leaving))
            }
        }
        RollStep::Pause => {
            // A pause belongs between units; a unit recorded with it starts over.
            moved(progress, input, RollStep::Probe)
        }
    }
}

/// The unit's brokers are done: record them and start the pause.
fn end_unit(progress: &mut RollProgress, input: &RollInput<'_>, ids: &[BrokerId]) {
    for id in ids {
        if !progress.done.contains(&id.0) {
            progress.done.push(id.0);
        }
    }
    progress.current = None;
    progress.rack = None;
    progress.step = Some(RollStep::Pause);
    progress.step_started_at = Some(timestamp(input.now));
    progress.paused_reason = None;
}

/// Moves the unit to `step`, which starts now.
fn moved(progress: &mut RollProgress, input: &RollInput<'_>, step: RollStep) -> Outcome {
    progress.step = Some(step);
    progress.step_started_at = Some(timestamp(input.now));
    progress.paused_reason = None;
    Outcome::Moved
}

/// The step's condition does not hold: wait, and once the step has lasted
/// longer than the health timeout, record why the roll is paused.
fn wait(
    progress: &mut RollProgress,
    input: &RollInput<'_>,
    ids: &[BrokerId],
    reason: String,
) -> Outcome {
    if progress.paused_reason.is_none()
        && elapsed(progress, input.now) >= input.policy.health_timeout
    {
        let step = progress.step.unwrap_or(RollStep::Probe);
        let names: Vec<String> = ids.iter().map(|id| id.0.to_string()).collect();
        progress.paused_reason = Some(format!(
            "{step:?} of broker {} has waited more than {} s: {reason}",
            names.join(", "),
            input.policy.health_timeout.as_secs()
        ));
    }
    Outcome::Act(Action::Wait(reason))
}
