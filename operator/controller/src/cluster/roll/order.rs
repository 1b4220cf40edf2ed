//! Which unit the roll restarts next: brokers whose Pod is not ready first
//! (restarting them costs nothing, and a broken old revision is most likely
//! what keeps them down), then by id, the controller leader last (so the
//! controller group's leadership moves once). With `OneRack`, racks in the
//! same order, and the unit is every stale broker of the rack; brokers with
//! no known rack go one at a time.

use std::collections::BTreeMap;

use fjord_crd::{RollProgress, RollStep, RolloutStrategy};
use fjord_metadata::BrokerId;

use super::{Action, BrokerView, Outcome, RollInput, elapsed, timestamp};

/// Chooses the next unit of a progress without one, after the pause.
pub(super) fn choose(input: &RollInput<'_>, progress: &mut RollProgress) -> Outcome {
    let stale: Vec<&BrokerView> = input
        .brokers
        .iter()
        .filter(|broker| broker.stale(input.target))
        .collect();
    if stale.is_empty() {
        return Outcome::Finished;
    }
    if progress.step == Some(RollStep::Pause) {
        let waited = elapsed(progress, input.now);
        if waited < input.policy.pause {
            let left = input.policy.pause.saturating_sub(waited).as_secs().max(1);
            return Outcome::Act(Action::Wait(format!(
                "pausing {left} s before the next restart"
            )));
        }
    }
    let leader = input.health.and_then(|health| health.controller);
    let key = |broker: &BrokerView| (broker.up(), Some(broker.id) == leader, broker.id);
    let first = stale
        .iter()
        .min_by_key(|broker| key(broker))
        .expect("stale is not empty");
    progress.step = Some(RollStep::Probe);
    progress.step_started_at = Some(timestamp(input.now));
    progress.paused_reason = None;
    match (input.policy.strategy, &first.rack) {
        (RolloutStrategy::OneRack, Some(_)) => {
            let rack = first_rack(&stale, leader);
            // Brokers of the rack already at the target need no restart.
            for broker in input.brokers {
                if broker.rack.as_ref() == Some(&rack)
                    && !broker.stale(input.target)
                    && !progress.done.contains(&broker.id.0)
                {
                    progress.done.push(broker.id.0);
                }
            }
            progress.rack = Some(rack);
        }
        _ => progress.current = Some(first.id.0),
    }
    Outcome::Moved
}

/// The first rack in roll order: one with a broker down first, the
/// leader's last, then by name (only racks of stale brokers; brokers with no
/// rack are left to go one at a time after them).
fn first_rack(stale: &[&BrokerView], leader: Option<BrokerId>) -> String {
    let mut racks: BTreeMap<&str, (bool, bool)> = BTreeMap::new();
    for broker in stale {
        let Some(rack) = &broker.rack else { continue };
        let entry = racks.entry(rack.as_str()).or_insert((true, false));
        entry.0 &= broker.up();
        entry.1 |= Some(broker.id) == leader;
    }
    racks
        .into_iter()
        .min_by_key(|(name, (all_up, has_leader))| (*all_up, *has_leader, *name))
        .map(|(name, _)| name.to_owned())
        .expect("called with a stale broker that has a rack")
}
