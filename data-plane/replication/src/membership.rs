//! Single-server membership change (Raft thesis §4.2): one voter is added or
//! removed at a time, by a configuration entry that takes effect as soon as
//! it is appended. Any two majorities of configurations that differ by one
//! voter intersect, so no joint consensus is needed, provided a leader has
//! at most one uncommitted change and has committed an entry of its own term
//! before proposing one (the fix Ongaro posted in 2015 for the bug in the
//! original single-server algorithm).

use crate::engine::{Engine, Pending, Role};
use crate::log::{ConfigEntry, EpochStart};
use crate::message::{AppendSource, Command, MembershipChange, MembershipRefusal, ReplyOutcome};
use crate::progress::Progress;
use crate::types::{NodeId, RequestId};

impl Engine {
    /// The voters of the latest configuration in the log (appended is enough),
    /// or of the initial configuration if the log holds none.
    pub fn voters(&self) -> &[NodeId] {
        self.log
            .latest_config()
            .map_or(&self.config.voters, |config| &config.voters)
    }

    /// Whether this node is a voter of its latest configuration.
    pub fn is_voter(&self) -> bool {
        self.voters().contains(&self.config.id)
    }

    /// Votes (or durable acknowledgements) needed in the latest configuration.
    pub(crate) fn quorum(&self) -> usize {
        self.voters().len() / 2 + 1
    }

    /// Whether `granted` holds a quorum of the latest configuration's voters.
    pub(crate) fn counts_quorum(&self, granted: &std::collections::BTreeSet<NodeId>) -> bool {
        let voters = self.voters();
        granted.iter().filter(|id| voters.contains(id)).count() >= self.quorum()
    }

    /// Validates a proposed change against the leader's state.
    fn check_change(&self, change: MembershipChange) -> Result<Vec<NodeId>, ReplyOutcome> {
        let Role::Leader(state) = &self.role else {
            let leader = match self.role {
                Role::Follower { leader } => leader,
                _ => None,
            };
            return Err(ReplyOutcome::NotLeader { leader });
        };
        let refuse = |why| Err(ReplyOutcome::Refused(why));
        if state.0.transfer.is_some() {
            return refuse(MembershipRefusal::TransferInProgress);
        }
        if !self.is_voter() {
            return Err(ReplyOutcome::NotLeader { leader: None });
        }
        if self
            .log
            .latest_config()
            .is_some_and(|c| c.offset >= self.commit)
        {
            return refuse(MembershipRefusal::ChangeInProgress);
        }
        if self.log.term_before(self.commit) != Some(self.hard.term) {
            return refuse(MembershipRefusal::LeaderNotSettled);
        }
        let mut voters = self.voters().to_vec();
        match change {
            MembershipChange::AddVoter(id) if voters.contains(&id) => {
                return refuse(MembershipRefusal::AlreadyVoter(id));
            }
            MembershipChange::AddVoter(id) => voters.push(id),
            MembershipChange::RemoveVoter(id) if !voters.contains(&id) => {
                return refuse(MembershipRefusal::NotAVoter(id));
            }
            MembershipChange::RemoveVoter(_) if voters.len() == 1 => {
                return refuse(MembershipRefusal::LastVoter);
            }
            MembershipChange::RemoveVoter(id) => voters.retain(|v| *v != id),
        }
        voters.sort_unstable();
        Ok(voters)
    }

    /// Appends a configuration entry (leader only); it is in effect at once.
    pub(crate) fn change_membership(&mut self, request: RequestId, change: MembershipChange) {
        let voters = match self.check_change(change) {
            Ok(voters) => voters,
            Err(outcome) => {
                self.output.push(Command::Reply { request, outcome });
                return;
            }
        };
        let bound = self.config.max_pending_requests as usize;
        if self
            .leader_state()
            .is_some_and(|s| s.pending.len() >= bound)
        {
            let outcome = ReplyOutcome::Overloaded;
            self.output.push(Command::Reply { request, outcome });
            return;
        }
        let offset = self.log.end;
        let end = offset.plus(1);
        let epochs = vec![EpochStart {
            term: self.hard.term,
            start: offset,
        }];
        self.log.append(end, &epochs);
        self.log.record_configs(&[ConfigEntry { offset, voters }]);
        self.verified = end;
        self.output.push(Command::AppendEntries {
            from: offset,
            end,
            epochs,
            source: AppendSource::Membership(request),
        });
        self.track_voters(offset);
        let pending = Pending {
            request,
            first: offset,
            end,
        };
        self.leader_state()
            .expect("checked")
            .pending
            .push_back(pending);
        self.broadcast_append();
        self.advance_commit();
    }

    /// Makes the leader's progress map follow the latest configuration: a new
    /// voter is probed from `next` (the configuration entry), a removed one
    /// forgotten.
    fn track_voters(&mut self, next: crate::types::Offset) {
        assert!(next < self.log.end);
        let peers = self.peers();
        let (end, now) = (next, self.now);
        let state = self.leader_state().expect("only a leader tracks voters");
        state.progress.retain(|id, _| peers.contains(id));
        for peer in peers {
            state
                .progress
                .entry(peer)
                .or_insert_with(|| Progress::new(end, now));
        }
    }

    /// A leader that removed itself steps down once that configuration is
    /// committed, and from then on sends nothing unasked (it never campaigns).
    pub(crate) fn step_down_if_removed(&mut self) {
        let committed = self
            .log
            .latest_config()
            .is_some_and(|config| config.offset < self.commit);
        if self.is_leader() && !self.is_voter() && committed {
            self.become_follower(self.hard.term, None);
        }
    }
}
