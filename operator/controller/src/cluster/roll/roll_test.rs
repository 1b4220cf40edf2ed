//! Table-driven tests of the planner, and a small model of a cluster that
//! executes its actions (restarted brokers come back after a few ticks), so
//! whole rolls can be driven: orderings, racks, unready first, leader last,
//! override, resuming from every recorded step, leftover maintenance.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::time::Duration;

use chrono::{DateTime, TimeZone as _, Utc};
use fjord_crd::{RollProgress, RollStep, RolloutStrategy};
use fjord_metadata::BrokerId;

use super::*;

const OLD: &str = "old";
const NEW: &str = "new";

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 7, 3, 0, 0).unwrap()
}

fn broker(id: u32, revision: &str) -> BrokerView {
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

fn down(mut broker: BrokerView) -> BrokerView {
    if let PodView::Present { ready, .. } = &mut broker.pod {
        *ready = false;
    }
    broker.serving = false;
    broker.leaderships = 0;
    broker
}

fn in_rack(mut broker: BrokerView, rack: &str) -> BrokerView {
    broker.rack = Some(rack.to_owned());
    broker
}

fn policy(strategy: RolloutStrategy, pause_seconds: u64) -> Policy {
    Policy {
        strategy,
        health_timeout: Duration::from_secs(60),
        pause: Duration::from_secs(pause_seconds),
    }
}

fn progress(current: u32, step: RollStep, started: DateTime<Utc>) -> RollProgress {
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
struct Model {
    brokers: Vec<BrokerView>,
    warming: Vec<(BrokerId, u32)>,
    warmup: u32,
    leader: Option<BrokerId>,
    progress: Option<RollProgress>,
    now: DateTime<Utc>,
    policy: Policy,
    override_gates: bool,
    probe_unsafe: bool,
    deletions: Vec<Vec<u32>>,
    actions: Vec<Action>,
}

impl Model {
    fn new(brokers: Vec<BrokerView>, policy: Policy) -> Self {
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

    fn health(&self) -> HealthView {
        HealthView {
            healthy: self.brokers.iter().all(|b| b.up() && b.serving),
            controller: self.leader,
        }
    }

    /// Plans once (asking the probe when told to) and executes the action.
    fn step(&mut self, target: &str) -> Action {
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

    fn execute(&mut self, action: &Action, target: &str) {
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
    fn tick(&mut self, target: &str) {
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
    fn run(&mut self, target: &str) -> Vec<Vec<u32>> {
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

#[test]
fn nothing_stale_and_nothing_recorded_is_idle() {
    let brokers = vec![broker(1, NEW), broker(2, NEW), broker(3, NEW)];
    let mut model = Model::new(brokers, policy(RolloutStrategy::OneBroker, 0));
    assert_eq!(model.step(NEW), Action::Idle);
    assert!(model.progress.is_none());
}

type OrderCase = (&'static str, Vec<BrokerView>, Option<u32>, Vec<Vec<u32>>);

#[test]
fn rolls_one_broker_at_a_time_unready_first_controller_leader_last() {
    // (case, brokers, controller leader, expected deletions in order)
    let cases: &[OrderCase] = &[
        (
            "by id",
            vec![broker(1, OLD), broker(2, OLD), broker(3, OLD)],
            None,
            vec![vec![1], vec![2], vec![3]],
        ),
        (
            "leader last",
            vec![broker(1, OLD), broker(2, OLD), broker(3, OLD)],
            Some(1),
            vec![vec![2], vec![3], vec![1]],
        ),
        (
            "unready first, even before a lower id",
            vec![broker(1, OLD), broker(2, OLD), down(broker(3, OLD))],
            Some(2),
            vec![vec![3], vec![1], vec![2]],
        ),
        (
            "brokers already at the target are skipped",
            vec![
                broker(1, NEW),
                broker(2, OLD),
                broker(3, NEW),
                broker(4, OLD),
            ],
            Some(4),
            vec![vec![2], vec![4]],
        ),
    ];
    for (name, brokers, leader, expected) in cases {
        let mut model = Model::new(brokers.clone(), policy(RolloutStrategy::OneBroker, 0));
        model.leader = leader.map(BrokerId);
        assert_eq!(&model.run(NEW), expected, "{name}");
    }
}

#[test]
fn each_restart_probes_drains_deletes_waits_and_undrains_in_that_order() {
    let brokers = vec![broker(1, OLD), broker(2, NEW), broker(3, NEW)];
    let mut model = Model::new(brokers, policy(RolloutStrategy::OneBroker, 0));
    model.run(NEW);
    let kinds: Vec<&str> = model
        .actions
        .iter()
        .map(|action| match action {
            Action::Idle => "idle",
            Action::Probe(_) => "probe",
            Action::EnterMaintenance(_) => "enter",
            Action::DeletePods(_) => "delete",
            Action::ExitMaintenance(_) => "exit",
            Action::Wait(_) => "wait",
        })
        .collect();
    let mut deduplicated = kinds.clone();
    deduplicated.dedup();
    assert_eq!(
        deduplicated,
        ["enter", "delete", "wait", "exit", "idle"],
        "{kinds:?}"
    );
}

#[test]
fn one_rack_at_a_time_with_the_leaders_rack_last_and_an_unready_rack_first() {
    let racks = |b: [BrokerView; 6]| -> Vec<BrokerView> {
        let names = ["a", "a", "b", "b", "c", "c"];
        b.into_iter()
            .zip(names)
            .map(|(b, r)| in_rack(b, r))
            .collect()
    };
    let all_old = racks([1, 2, 3, 4, 5, 6].map(|id| broker(id, OLD)));
    let mut model = Model::new(all_old.clone(), policy(RolloutStrategy::OneRack, 5));
    model.leader = Some(BrokerId(2));
    assert_eq!(model.run(NEW), vec![vec![3, 4], vec![5, 6], vec![1, 2]]);

    let mut with_down = all_old;
    with_down[5] = down(with_down[5].clone());
    let mut model = Model::new(with_down, policy(RolloutStrategy::OneRack, 0));
    model.leader = Some(BrokerId(2));
    assert_eq!(model.run(NEW), vec![vec![5, 6], vec![3, 4], vec![1, 2]]);
}

#[test]
fn a_rack_member_already_at_the_target_is_not_restarted_again() {
    let brokers = vec![
        in_rack(broker(1, OLD), "a"),
        in_rack(broker(2, NEW), "a"),
        in_rack(broker(3, OLD), "b"),
    ];
    let mut model = Model::new(brokers, policy(RolloutStrategy::OneRack, 0));
    assert_eq!(model.run(NEW), vec![vec![1], vec![3]]);
}

#[test]
fn the_pause_between_brokers_is_waited_out() {
    let brokers = vec![broker(1, OLD), broker(2, OLD)];
    let mut model = Model::new(brokers, policy(RolloutStrategy::OneBroker, 30));
    model.run(NEW);
    let pauses = model
        .actions
        .iter()
        .filter(|a| matches!(a, Action::Wait(reason) if reason.starts_with("pausing")))
        .count();
    assert!((29..=31).contains(&pauses), "waited {pauses} ticks of 1 s");
}

#[test]
fn an_unsafe_probe_holds_the_roll_and_pauses_it_after_the_timeout_until_safe() {
    let brokers = vec![broker(1, OLD), broker(2, OLD), broker(3, OLD)];
    let mut model = Model::new(brokers, policy(RolloutStrategy::OneBroker, 0));
    model.probe_unsafe = true;
    for _ in 0..60 {
        assert!(matches!(model.step(NEW), Action::Wait(reason) if reason.contains("orders-0")));
        assert_eq!(model.progress.as_ref().unwrap().paused_reason, None);
    }
    model.step(NEW);
    let reason = model
        .progress
        .as_ref()
        .unwrap()
        .paused_reason
        .clone()
        .unwrap();
    assert!(
        reason.contains("Probe of broker 1") && reason.contains("orders-0"),
        "{reason}"
    );
    assert!(model.deletions.is_empty(), "nothing restarted while unsafe");
    model.probe_unsafe = false;
    model.step(NEW);
    assert_eq!(
        model.progress.as_ref().unwrap().paused_reason,
        None,
        "resumed"
    );
    assert_eq!(model.run(NEW), vec![vec![1], vec![2], vec![3]]);
}

#[test]
fn a_broker_killed_mid_roll_holds_the_next_restart_until_it_is_healthy_again() {
    // Broker 1 was restarted onto the target and then killed.
    let brokers = vec![down(broker(1, NEW)), broker(2, OLD), broker(3, OLD)];
    let mut model = Model::new(brokers, policy(RolloutStrategy::OneBroker, 0));
    for _ in 0..10 {
        let action = model.step(NEW);
        assert!(
            matches!(&action, Action::Wait(reason) if reason == "broker 1 is not serving"),
            "{action:?}"
        );
    }
    assert!(model.deletions.is_empty());
    model.brokers[0] = broker(1, NEW);
    assert_eq!(model.run(NEW), vec![vec![2], vec![3]]);
}

#[test]
fn the_override_lets_a_roll_pass_a_cluster_that_is_not_healthy() {
    // Broker 3 runs the target but is down: without the override nothing moves.
    let brokers = vec![broker(1, OLD), broker(2, OLD), down(broker(3, NEW))];
    let mut model = Model::new(brokers.clone(), policy(RolloutStrategy::OneBroker, 0));
    for _ in 0..61 {
        assert!(matches!(model.step(NEW), Action::Wait(_)));
    }
    assert!(model.progress.as_ref().unwrap().paused_reason.is_some());
    assert!(model.deletions.is_empty());
    // With it, one broker at a time all the same.
    model.override_gates = true;
    for _ in 0..40 {
        model.step(NEW);
    }
    assert_eq!(model.deletions, vec![vec![1], vec![2]]);
}

#[test]
fn leftover_maintenance_outside_the_unit_is_cleared_first() {
    let mut brokers = vec![broker(1, NEW), broker(2, NEW), broker(3, NEW)];
    brokers[1].maintenance = true;
    let mut model = Model::new(brokers, policy(RolloutStrategy::OneBroker, 0));
    assert_eq!(model.step(NEW), Action::ExitMaintenance(vec![BrokerId(2)]));
    assert_eq!(model.step(NEW), Action::Idle);

    // Also during a roll: broker 3 left in maintenance while 1 is the unit.
    let mut brokers = vec![broker(1, OLD), broker(2, OLD), broker(3, OLD)];
    brokers[2].maintenance = true;
    let mut model = Model::new(brokers, policy(RolloutStrategy::OneBroker, 0));
    model.progress = Some(progress(1, RollStep::EnterMaintenance, t0()));
    assert_eq!(model.step(NEW), Action::ExitMaintenance(vec![BrokerId(3)]));
}

/// A crash after recording each step, with the cluster in any state that
/// step's action may have left: the next operator's first action, and the
/// whole roll finishing without restarting broker 2 twice.
#[test]
fn a_restarted_operator_resumes_from_every_recorded_step() {
    let at = |revision: &str, ready: bool| PodView::Present {
        revision: Some(revision.to_owned()),
        ready,
    };
    // (step, broker 2's pod, maintenance, serving, expected first action)
    let cases: Vec<(RollStep, PodView, bool, bool, Action)> = vec![
        (
            RollStep::Probe,
            at(OLD, true),
            false,
            true,
            Action::EnterMaintenance(vec![BrokerId(2)]),
        ),
        (
            RollStep::EnterMaintenance,
            at(OLD, true),
            false,
            true,
            Action::EnterMaintenance(vec![BrokerId(2)]),
        ),
        (
            RollStep::EnterMaintenance,
            at(OLD, true),
            true,
            true,
            Action::DeletePods(vec![BrokerId(2)]),
        ),
        (
            RollStep::DeletePod,
            at(OLD, true),
            true,
            true,
            Action::DeletePods(vec![BrokerId(2)]),
        ),
        (
            RollStep::DeletePod,
            PodView::Terminating,
            true,
            false,
            Action::Wait("broker 2 is not ready yet".into()),
        ),
        (
            RollStep::DeletePod,
            PodView::Missing,
            true,
            false,
            Action::Wait("broker 2 is not ready yet".into()),
        ),
        (
            RollStep::DeletePod,
            at(NEW, false),
            true,
            false,
            Action::Wait("broker 2 is not ready yet".into()),
        ),
        (
            RollStep::DeletePod,
            at(NEW, true),
            true,
            true,
            Action::ExitMaintenance(vec![BrokerId(2)]),
        ),
        (
            RollStep::WaitServing,
            at(NEW, true),
            true,
            true,
            Action::ExitMaintenance(vec![BrokerId(2)]),
        ),
        (
            RollStep::ExitMaintenance,
            at(NEW, true),
            true,
            true,
            Action::ExitMaintenance(vec![BrokerId(2)]),
        ),
        (
            RollStep::ExitMaintenance,
            at(NEW, true),
            false,
            true,
            Action::EnterMaintenance(vec![BrokerId(1)]),
        ),
    ];
    for (step, pod, maintenance, serving, expected) in cases {
        let mut brokers = vec![broker(1, OLD), broker(2, OLD), broker(3, NEW)];
        brokers[1].pod = pod.clone();
        brokers[1].maintenance = maintenance;
        brokers[1].serving = serving;
        brokers[1].leaderships = 0;
        let mut model = Model::new(brokers, policy(RolloutStrategy::OneBroker, 0));
        model.progress = Some(progress(2, step, t0()));
        if matches!(pod, PodView::Terminating | PodView::Missing) || pod == at(NEW, false) {
            model.warming.push((BrokerId(2), 2));
        }
        let first = model.step(NEW);
        assert_eq!(first, expected, "resuming at {step:?} with {pod:?}");
        let deletions = model.run(NEW);
        let twice = deletions.iter().flatten().filter(|id| **id == 2).count();
        let expected_twice = usize::from(pod == at(OLD, true));
        assert_eq!(
            twice, expected_twice,
            "broker 2 deleted {twice} times resuming at {step:?}"
        );
    }
}

#[test]
fn a_recorded_pause_is_resumed_for_what_is_left_of_it() {
    let brokers = vec![broker(1, NEW), broker(2, OLD), broker(3, OLD)];
    let mut recorded = progress(1, RollStep::Pause, t0() - chrono::TimeDelta::seconds(20));
    recorded.current = None;
    recorded.done = vec![1];
    let mut model = Model::new(brokers, policy(RolloutStrategy::OneBroker, 30));
    model.progress = Some(recorded);
    let waits = (0..20)
        .take_while(|_| matches!(model.step(NEW), Action::Wait(r) if r.starts_with("pausing")))
        .count();
    assert_eq!(waits, 10);
}

#[test]
fn a_bad_revision_that_keeps_a_broker_down_is_replaced_by_the_next_target() {
    let brokers = vec![broker(1, OLD), broker(2, OLD), broker(3, OLD)];
    let mut model = Model::new(brokers, policy(RolloutStrategy::OneBroker, 0));
    // "bad" never serves: its Pods stay unready.
    model.warmup = u32::MAX / 2;
    for _ in 0..100 {
        model.step("bad");
    }
    assert_eq!(
        model.deletions,
        vec![vec![1]],
        "the roll stopped at the first broker"
    );
    let recorded = model.progress.clone().unwrap();
    assert_eq!(recorded.step, Some(RollStep::WaitServing));
    assert!(
        recorded
            .paused_reason
            .unwrap()
            .contains("broker 1 is not ready")
    );
    // The fix: broker 1 (down, at "bad") is restarted first, with no verdict.
    model.warming.clear();
    model.warmup = 2;
    assert_eq!(model.step("fixed"), Action::DeletePods(vec![BrokerId(1)]));
    assert_eq!(model.run("fixed"), vec![vec![1], vec![1], vec![2], vec![3]]);
}

#[test]
fn a_new_target_drops_a_unit_that_has_not_restarted_yet() {
    let brokers = vec![broker(1, OLD), broker(2, OLD), broker(3, OLD)];
    let mut model = Model::new(brokers, policy(RolloutStrategy::OneBroker, 0));
    model.leader = Some(BrokerId(2));
    model.progress = Some(progress(3, RollStep::Probe, t0()));
    assert_eq!(
        model.step("newer"),
        Action::EnterMaintenance(vec![BrokerId(1)])
    );
    let recorded = model.progress.clone().unwrap();
    assert_eq!(recorded.target_revision, "newer");
    assert_eq!(recorded.current, Some(1));
}

#[test]
fn a_cluster_whose_brokers_are_all_down_is_rolled_one_broker_at_a_time() {
    let brokers = vec![
        down(broker(1, OLD)),
        down(broker(2, OLD)),
        down(broker(3, OLD)),
    ];
    let mut model = Model::new(brokers, policy(RolloutStrategy::OneBroker, 0));
    assert_eq!(model.run(NEW), vec![vec![1], vec![2], vec![3]]);
}
