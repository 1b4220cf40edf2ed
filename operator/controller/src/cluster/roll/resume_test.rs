//! The planner resuming what a stopped operator recorded: every step,
//! pauses, a changed target, a bad revision replaced, leftover maintenance.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use fjord_crd::{RollStep, RolloutStrategy};
use fjord_metadata::BrokerId;

use super::model_test::*;
use super::*;

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
