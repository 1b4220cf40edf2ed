//! A small model of a cluster that executes the planner's actions
//! (restarted brokers come back after a few ticks), so tests can drive whole
//! rolls; it fails a test if two brokers are ever down at once.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::time::Duration;

use chrono::{DateTime, TimeZone as _, Utc};
use fjord_crd::{RollProgress, RollStep, RolloutStrategy};
use fjord_metadata::BrokerId;

use super::*;

pub(super) const OLD: &str = "old";
pub(super) const NEW: &str = "new";

pub(super) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 7, 3, 0, 0).unwrap()
}

pub(super) fn broker(id: u32, revision: &str) -> BrokerView {
    BrokerView {
        id: BrokerId(id),
        pod: PodView::Present {
            revision: Some(revision.to_owned()),
            ready: true,
        },
        serving: true,
        maintenance: false,
        leaderships: 2,
        rack: None,
    }
}

pub(super) fn down(mut broker: BrokerView) -> BrokerView {
    if let PodView::Present { ready, .. } = &mut broker.pod {
        *ready = false;
    }
    broker.serving = false;
    broker.leaderships = 0;
    broker
}

pub(super) fn in_rack(mut broker: BrokerView, rack: &str) -> BrokerView {
    broker.rack = Some(rack.to_owned());
    broker
}

pub(super) fn policy(strategy: RolloutStrategy, pause_seconds: u64) -> Policy {
    Policy {
        strategy,
        health_timeout: Duration::from_secs(60),
        pause: Duration::from_secs(pause_seconds),
    }
}

pub(super) fn progress(current: u32, step: RollStep, started: DateTime<Utc>) -> RollProgress {
    RollProgress {
        target_revision: NEW.to_owned(),
        done: Vec::new(),
        current: Some(current),
        rack: None,
        step: Some(step),
        step_started_at: Some(timestamp(started)),
        paused_reason: None,
    }
}

/// A cluster that executes the planner's actions: a deleted Pod is
/// terminating for one tick, then present at the target but not ready for
/// `warmup` ticks, then ready and serving.
pub(super) struct Model {
    pub(super) brokers: Vec<BrokerView>,
    pub(super) warming: Vec<(BrokerId, u32)>,
    pub(super) warmup: u32,
    pub(super) leader: Option<BrokerId>,
    pub(super) progress: Option<RollProgress>,
    pub(super) now: DateTime<Utc>,
    pub(super) policy: Policy,
    pub(super) override_gates: bool,
    pub(super) probe_unsafe: bool,
    pub(super) deletions: Vec<Vec<u32>>,
    pub(super) actions: Vec<Action>,
}

impl Model {
    pub(super) fn new(brokers: Vec<BrokerView>, policy: Policy) -> Self {
        Self {
            brokers,
            warming: Vec::new(),
            warmup: 2,
            leader: None,
            progress: None,
            now: t0(),
            policy,
            override_gates: false,
            probe_unsafe: false,
            deletions: Vec::new(),
            actions: Vec::new(),
        }
    }

    pub(super) fn health(&self) -> HealthView {
        HealthView {
            healthy: self.brokers.iter().all(|b| b.up() && b.serving),
            controller: self.leader,
        }
    }

    /// Plans once (asking the probe when told to) and executes the action.
    pub(super) fn step(&mut self, target: &str) -> Action {
        let health = self.health();
        let mut probe = None;
        loop {
            let input = RollInput {
                target,
                brokers: &self.brokers,
                health: Some(&health),
                policy: self.policy,
                progress: self.progress.as_ref(),
                override_gates: self.override_gates,
                probe: probe.as_ref(),
                now: self.now,
            };
            let plan = plan(&input);
            self.progress = plan.progress;
            if let Action::Probe(brokers) = &plan.action {
                assert!(probe.is_none(), "asked the probe twice in one pass");
                probe = Some(ProbeAnswer {
                    brokers: brokers.clone(),
                    unsafe_reason: self.probe_unsafe.then(|| "orders-0 at risk".to_owned()),
                });
                continue;
            }
            self.execute(&plan.action, target);
            self.actions.push(plan.action.clone());
            return plan.action;
        }
    }

    pub(super) fn execute(&mut self, action: &Action, target: &str) {
        match action {
            Action::EnterMaintenance(ids) | Action::ExitMaintenance(ids) => {
                let on = matches!(action, Action::EnterMaintenance(_));
                for broker in self.brokers.iter_mut().filter(|b| ids.contains(&b.id)) {
                    broker.maintenance = on;
                    if on {
                        broker.leaderships = 0;
                    }
                }
            }
            Action::DeletePods(ids) => {
                let up_elsewhere_down = self
                    .brokers
                    .iter()
                    .filter(|b| !ids.contains(&b.id))
                    .any(|b| !b.up());
                let deletes_an_up_broker =
                    self.brokers.iter().any(|b| ids.contains(&b.id) && b.up());
                assert!(
                    self.override_gates || !(up_elsewhere_down && deletes_an_up_broker),
                    "two brokers down at once: {ids:?} deleted while another is down"
                );
                self.deletions.push(ids.iter().map(|id| id.0).collect());
                for broker in self.brokers.iter_mut().filter(|b| ids.contains(&b.id)) {
                    broker.pod = PodView::Terminating;
                    broker.serving = false;
                    broker.leaderships = 0;
                }
                for id in ids {
                    self.warming.push((*id, self.warmup + 1));
                }
            }
            Action::Idle | Action::Wait(_) | Action::Probe(_) => {}
        }
        self.tick(target);
    }

    /// One second passes; restarting brokers progress.
    pub(super) fn tick(&mut self, target: &str) {
        self.now += chrono::TimeDelta::seconds(1);
        for (id, left) in &mut self.warming {
            *left -= 1;
            let broker = self.brokers.iter_mut().find(|b| b.id == *id).unwrap();
            broker.pod = PodView::Present {
                revision: Some(target.to_owned()),
                ready: *left == 0,
            };
            broker.serving = *left == 0;
        }
        self.warming.retain(|(_, left)| *left > 0);
    }

    /// Steps until the planner is idle; the deletions in order.
    pub(super) fn run(&mut self, target: &str) -> Vec<Vec<u32>> {
        for _ in 0..1000 {
            if self.step(target) == Action::Idle {
                assert!(self.progress.is_none(), "an idle plan records no roll");
                for broker in &self.brokers {
                    assert_eq!(
                        broker.pod,
                        PodView::Present {
                            revision: Some(target.to_owned()),
                            ready: true
                        }
                    );
                    assert!(
                        !broker.maintenance,
                        "broker {:?} left in maintenance",
                        broker.id
                    );
                }
                return self.deletions.clone();
            }
        }
        panic!("the roll did not finish: {:?}", self.actions.last());
    }
}
