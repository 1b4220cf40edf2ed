//! Handles for scripted scenarios on a quiet cluster.

use fjord_replication::{Engine, Input, MembershipChange, Millis, NodeId, RequestId};

use crate::cluster::{NODES, Simulation};

impl Simulation {
    /// Cuts `node` off from every other node (both directions), or heals
    /// every cut with `None`.
    pub fn isolate(&mut self, node: Option<usize>) {
        self.cut.clear();
        if let Some(node) = node {
            assert!(node < NODES);
            for other in (0..NODES).filter(|o| *o != node) {
                self.cut.insert((node, other));
                self.cut.insert((other, node));
            }
        }
    }

    /// Drops every message from `from` to `to`; the other direction still works.
    pub fn cut_one_way(&mut self, from: usize, to: usize) {
        assert!(from < NODES && to < NODES && from != to);
        self.cut.insert((from, to));
    }

    /// Asks node `from` (the leader) to hand leadership to `to`.
    pub fn transfer_leadership(&mut self, from: usize, to: usize) {
        assert!(from < NODES && to < NODES && from != to);
        let to = NodeId(to as u32);
        self.step(from, Input::TransferLeadership { to });
    }

    /// Asks the current leader to add or remove one voter; `false` if there
    /// is no leader. The outcome shows in the nodes' configurations.
    pub fn change_membership(&mut self, change: MembershipChange) -> bool {
        let Some(leader) = self.leader().map(|e| e.id().0 as usize) else {
            return false;
        };
        let request = RequestId(u64::MAX - self.now.0);
        self.step(leader, Input::ChangeMembership { request, change });
        true
    }

    pub fn now(&self) -> Millis {
        self.now
    }

    /// The live node that believes it leads with the highest term.
    pub fn leader(&self) -> Option<&Engine> {
        self.nodes
            .iter()
            .flatten()
            .filter(|e| e.is_leader())
            .max_by_key(|e| e.term())
    }

    pub fn node(&self, index: usize) -> Option<&Engine> {
        self.nodes[index].as_ref()
    }

    pub fn acknowledged(&self) -> usize {
        self.checkers.acknowledged_count()
    }
}
