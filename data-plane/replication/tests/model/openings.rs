//! Scripted openings: fault-free prefixes that bring the model to a state
//! worth searching from.

use fjord_replication::{Input, MembershipChange, Message, NodeId, Offset, RequestId, Term};

use crate::{Envelope, ReplicationModel, State};

impl ReplicationModel {
    /// Elects node 0 and commits its first entry with every message delivered
    /// in order and every node fsyncing after each delivery.
    pub(crate) fn warm_up(&self, state: &mut State) {
        let roomy = ReplicationModel {
            max_network: 16,
            ..self.clone()
        };
        roomy.apply(state, 0, Input::Tick);
        // Bounded: a fault-free election and one commit take a few dozen steps.
        for _ in 0..64 {
            let Some(envelope) = state.network.pop_first() else {
                break;
            };
            roomy.deliver(state, envelope);
            for i in 0..3 {
                let end = state.engines[i].log().end;
                roomy.apply(state, i, Input::Durable { end });
            }
        }
        let leader = &state.engines[0];
        assert!(leader.is_leader(), "warm-up elects node 0");
        assert!(
            leader.high_watermark() > Offset::ZERO,
            "warm-up commits an entry"
        );
        assert!(state.network.is_empty(), "warm-up leaves a quiet network");
    }

    /// The opening of simulation seed 8592's race, from the warm start: node
    /// 0 adds the spare (committed, four voters), then appends "remove node
    /// 1" ({0,2,3}) that nobody hears; nodes 1 and 2 lose their lease and
    /// elect node 3 in term 2; node 3's leader-change entry reaches node 1
    /// only, durably. Its appends to 0 and 2 stay in flight. From here the
    /// search decides when node 3 may change membership: with the
    /// `LeaderNotSettled` rule not before its entry is on three of four.
    pub(crate) fn race_up(&self, state: &mut State) {
        let roomy = ReplicationModel {
            max_network: 16,
            ..self.clone()
        };
        let change = |change| Input::ChangeMembership {
            request: RequestId(90),
            change,
        };
        roomy.apply(state, 0, change(MembershipChange::AddVoter(NodeId(3))));
        roomy.settle(state, |_| true);
        let leader = &state.engines[0];
        let added = leader.log().latest_config().map(|c| c.offset);
        assert!(added.is_some_and(|at| at < leader.high_watermark()));
        roomy.apply(state, 0, change(MembershipChange::RemoveVoter(NodeId(1))));
        state.network.clear();
        roomy.fsync(state, 0);
        for follower in [1, 2] {
            roomy.apply(state, follower, Input::Tick); // the lease expires
        }
        state.network.clear();
        roomy.apply(state, 3, Input::Tick);
        let without_0 = |e: &Envelope| e.from != NodeId(0) && e.to != NodeId(0);
        // Bounded: pre-votes and votes of three nodes.
        for _ in 0..32 {
            if state.engines[3].is_leader() {
                break;
            }
            let Some(envelope) = state.network.pop_first() else {
                break;
            };
            if without_0(&envelope) {
                roomy.deliver(state, envelope);
            }
        }
        assert!(state.engines[3].is_leader() && state.engines[3].term() == Term(2));
        state
            .network
            .retain(|e| matches!(e.message, Message::Append { .. }));
        let to_1 = state.network.iter().find(|e| e.to == NodeId(1)).cloned();
        let to_1 = to_1.expect("the leader-change entry goes to node 1");
        state.network.remove(&to_1);
        roomy.deliver(state, to_1);
        roomy.fsync(state, 1);
        let answers: Vec<Envelope> = state
            .network
            .iter()
            .filter(|e| e.to == NodeId(3))
            .cloned()
            .collect();
        for answer in answers {
            state.network.remove(&answer);
            roomy.deliver(state, answer);
        }
        assert!(
            state.network.len() <= self.max_network,
            "{:?}",
            state.network
        );
        assert_eq!(
            state.engines[0].voters(),
            &[NodeId(0), NodeId(2), NodeId(3)]
        );
        assert_eq!(state.engines[3].voters().len(), 4);
    }

    /// Delivers every message in order, each node fsyncing after each.
    fn settle(&self, state: &mut State, link: impl Fn(&Envelope) -> bool) {
        // Bounded: a change and its catch-up take a few dozen messages.
        for _ in 0..256 {
            let Some(envelope) = state.network.pop_first() else {
                return;
            };
            if link(&envelope) {
                self.deliver(state, envelope);
            }
            for i in 0..state.engines.len() {
                self.fsync(state, i);
            }
        }
        panic!("the network never went quiet");
    }

    fn fsync(&self, state: &mut State, index: usize) {
        let end = state.engines[index].log().end;
        self.apply(state, index, Input::Durable { end });
    }

    pub(crate) fn deliver(&self, state: &mut State, envelope: Envelope) {
        let Envelope { from, to, message } = envelope;
        self.apply(state, to.0 as usize, Input::Message { from, message });
    }
}
