//! Membership changes during chaos: nodes are replaced one at a time.

use fjord_replication::{Input, MembershipChange, NodeId, RequestId};

use crate::cluster::{NODES, Simulation};

impl Simulation {
    /// Asks the leader to add the missing slot (three voters) or to remove a
    /// random voter (four): over a run, nodes are replaced one at a time.
    pub(crate) fn random_membership_change(&mut self) {
        let Some(leader) = self.leader() else { return };
        let (index, voters) = (leader.id().0 as usize, leader.voters().to_vec());
        let change = match (0..NODES as u32).map(NodeId).find(|n| !voters.contains(n)) {
            Some(spare) => MembershipChange::AddVoter(spare),
            None => {
                let victim = voters[self.rng.between(0, voters.len() as u64) as usize];
                MembershipChange::RemoveVoter(victim)
            }
        };
        self.next_request += 1;
        let request = RequestId(self.next_request);
        self.membership_requests.insert(request);
        self.report.membership_requested += 1;
        self.step(index, Input::ChangeMembership { request, change });
    }
}
