//! Table-driven tests of the planner through whole rolls of the model
//! (`model_test.rs`): orderings, racks, unready first, leader last, pauses,
//! probe verdicts, a broker killed mid-roll, the override.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use fjord_crd::RolloutStrategy;
use fjord_metadata::BrokerId;

use super::model_test::*;
use super::*;

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
