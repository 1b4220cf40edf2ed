//! Scripted partitions: pre-vote keeps a cut-off follower from disrupting a
//! healthy leader; check-quorum steps a cut-off leader down.

use fjord_replication::{Millis, Term};
use fjord_sim::Simulation;

fn elected(seed: u64) -> (Simulation, usize, Term) {
    let mut simulation = Simulation::quiet(seed);
    simulation.advance_to(Millis(2_000));
    let leader = simulation
        .leader()
        .expect("a quiet cluster elects a leader");
    let (index, term) = (leader.id().0 as usize, leader.term());
    (simulation, index, term)
}

#[test]
fn an_isolated_follower_does_not_disrupt_a_healthy_leader_when_it_returns() {
    for seed in 0..5 {
        let (mut simulation, leader, term) = elected(seed);
        let follower = (leader + 1) % 3;
        simulation.isolate(Some(follower));
        simulation.advance_to(Millis(5_000));
        let cut_off = simulation
            .node(follower)
            .expect("no crashes in a quiet run");
        assert_eq!(cut_off.term(), term, "seed {seed}: pre-vote keeps its term");
        simulation.isolate(None);
        simulation.advance_to(Millis(7_000));
        let now_leading = simulation.leader().expect("still a leader");
        assert_eq!(
            (now_leading.id().0 as usize, now_leading.term()),
            (leader, term),
            "seed {seed}"
        );
    }
}

#[test]
fn an_isolated_leader_steps_down_and_the_majority_elects_another() {
    for seed in 0..5 {
        let (mut simulation, leader, term) = elected(seed);
        let acknowledged = simulation.acknowledged();
        simulation.isolate(Some(leader));
        simulation.advance_to(Millis(4_000));
        let old = simulation.node(leader).expect("no crashes in a quiet run");
        assert!(
            !old.is_leader(),
            "seed {seed}: check-quorum steps the cut-off leader down"
        );
        let new = simulation.leader().expect("the majority elects a leader");
        assert!(
            new.term() > term && new.id().0 as usize != leader,
            "seed {seed}"
        );
        simulation.isolate(None);
        simulation.advance_to(Millis(6_000));
        assert!(
            simulation.acknowledged() > acknowledged,
            "seed {seed}: writes go on"
        );
    }
}

#[test]
fn leadership_moves_to_the_transfer_target_without_losing_writes() {
    for seed in 0..5 {
        let (mut simulation, leader, term) = elected(seed);
        let target = (leader + 2) % 3;
        simulation.transfer_leadership(leader, target);
        simulation.advance_to(Millis(2_500));
        let new = simulation.leader().expect("the target leads");
        assert_eq!(new.id().0 as usize, target, "seed {seed}");
        assert_eq!(
            new.term(),
            Term(term.0 + 1),
            "seed {seed}: one election, no pre-vote"
        );
        let acknowledged = simulation.acknowledged();
        simulation.advance_to(Millis(3_500));
        assert!(
            simulation.acknowledged() > acknowledged,
            "seed {seed}: writes go on"
        );
    }
}

#[test]
fn a_leader_that_is_heard_but_hears_nothing_steps_down_and_writes_go_on() {
    for seed in 0..5 {
        let (mut simulation, leader, term) = elected(seed);
        for follower in (0..3).filter(|f| *f != leader) {
            simulation.cut_one_way(follower, leader);
        }
        simulation.advance_to(Millis(4_000));
        let old = simulation.node(leader).expect("no crashes in a quiet run");
        assert!(
            !old.is_leader(),
            "seed {seed}: check-quorum steps down a leader whose followers' answers are lost"
        );
        let new = simulation.leader().expect("the followers elect a leader");
        assert!(
            new.term() > term && new.id().0 as usize != leader,
            "seed {seed}"
        );
        let acknowledged = simulation.acknowledged();
        simulation.advance_to(Millis(5_000));
        assert!(
            simulation.acknowledged() > acknowledged,
            "seed {seed}: writes go on while the old leader is still one-way cut"
        );
    }
}
