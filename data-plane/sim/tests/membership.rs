//! Scripted membership changes on a quiet cluster: the spare fourth slot
//! joins and catches up, then the leader removes itself, steps down once
//! that commits, and the other three carry on without it.

use fjord_replication::{MembershipChange, Millis, NodeId};
use fjord_sim::Simulation;

const SPARE: usize = 3;

#[test]
fn a_spare_joins_then_the_leader_removes_itself_and_the_others_carry_on() {
    for seed in 0..5 {
        let mut simulation = Simulation::quiet(seed);
        simulation.advance_to(Millis(2_000));
        let leader = simulation
            .leader()
            .expect("a quiet cluster elects a leader");
        let (old, term) = (leader.id(), leader.term());
        let spare = simulation.node(SPARE).expect("the spare runs");
        assert!(
            !spare.is_voter() && spare.term() < term.next(),
            "seed {seed}"
        );

        assert!(simulation.change_membership(MembershipChange::AddVoter(NodeId(3))));
        simulation.advance_to(Millis(3_000));
        let leader = simulation.leader().expect("still led");
        let all = [NodeId(0), NodeId(1), NodeId(2), NodeId(3)];
        assert_eq!(leader.voters(), &all, "seed {seed}");
        let spare = simulation.node(SPARE).expect("the spare runs");
        assert!(
            spare.is_voter(),
            "seed {seed}: it learned its own membership"
        );
        let lag = leader.high_watermark().0 - spare.high_watermark().0;
        assert!(lag < 20, "seed {seed}: the new voter caught up (lag {lag})");

        let acknowledged = simulation.acknowledged();
        assert!(simulation.change_membership(MembershipChange::RemoveVoter(old)));
        simulation.advance_to(Millis(6_000));
        let leader = simulation
            .leader()
            .expect("the remaining three elect a leader");
        assert_ne!(
            leader.id(),
            old,
            "seed {seed}: the removed leader stepped down"
        );
        assert!(!leader.voters().contains(&old), "seed {seed}");
        let (new_end, new_term) = (leader.log().end, leader.term());
        let removed = simulation.node(old.0 as usize).expect("no crashes");
        assert!(!removed.is_leader() && !removed.is_voter(), "seed {seed}");
        let removed_term = removed.term();
        assert!(removed_term <= new_term, "seed {seed}: it never campaigned");
        assert!(
            simulation.acknowledged() > acknowledged + 50,
            "seed {seed}: writes go on"
        );

        simulation.advance_to(Millis(9_000));
        let removed = simulation.node(old.0 as usize).expect("no crashes");
        assert_eq!(
            removed.term(),
            removed_term,
            "seed {seed}: the removed node stays quiet"
        );
        assert!(
            removed.log().end < new_end,
            "seed {seed}: nothing is sent to it"
        );
    }
}
