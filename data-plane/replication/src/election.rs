//! Pre-vote, vote and becoming leader.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::engine::{Engine, HardState, LeaderState, LeaderStateView, Role};
use crate::log::EpochStart;
use crate::message::{AppendSource, Command, Message};
use crate::progress::Progress;
use crate::types::{LogPosition, NodeId, Term};

impl Engine {
    /// The election timer fired: ask for pre-votes at `term + 1`.
    pub(crate) fn start_pre_vote(&mut self) {
        assert!(!self.is_leader());
        assert!(
            self.is_voter(),
            "a node outside its configuration never campaigns"
        );
        let mut granted = BTreeSet::new();
        granted.insert(self.config.id);
        self.role = Role::PreCandidate { granted };
        self.reset_election_deadline();
        let proposed = self.hard.term.next();
        let last = self.log.last_position();
        for peer in self.peers() {
            self.send(
                peer,
                Message::PreVote {
                    term: proposed,
                    last,
                },
            );
        }
        self.maybe_win_pre_vote();
    }

    pub(crate) fn on_pre_vote(&mut self, from: NodeId, term: Term, last: LogPosition) {
        // A node following a live leader, or leading, refuses: this keeps a
        // partitioned node that comes back from deposing a healthy leader.
        let has_leader = matches!(
            self.role,
            Role::Leader(_) | Role::Follower { leader: Some(_) }
        );
        let granted = term > self.hard.term && !has_leader && last >= self.log.last_position();
        let reply_term = if granted { term } else { self.hard.term };
        self.send(
            from,
            Message::PreVoteResponse {
                term: reply_term,
                granted,
            },
        );
    }

    pub(crate) fn on_pre_vote_response(&mut self, from: NodeId, term: Term, granted: bool) {
        if !granted {
            if term > self.hard.term {
                self.become_follower(term, None);
            }
            return;
        }
        let expected = self.hard.term.next();
        if let Role::PreCandidate { granted } = &mut self.role
            && term == expected
        {
            granted.insert(from);
            self.maybe_win_pre_vote();
        }
    }

    fn maybe_win_pre_vote(&mut self) {
        let Role::PreCandidate { granted } = &self.role else {
            return;
        };
        if !self.electable {
            return; // made unelectable mid-campaign: never win (liveness only)
        }
        if self.counts_quorum(granted) {
            self.start_election(false);
        }
    }

    /// Increments the term, votes for itself (persisted first) and asks for votes.
    pub(crate) fn start_election(&mut self, transfer: bool) {
        assert!(!self.is_leader());
        assert!(
            self.is_voter(),
            "a node outside its configuration never campaigns"
        );
        let term = self.hard.term.next();
        self.hard = HardState {
            term,
            voted_for: Some(self.config.id),
        };
        self.persist();
        self.verified = self.commit;
        let mut granted = BTreeSet::new();
        granted.insert(self.config.id);
        self.role = Role::Candidate { granted };
        self.reset_election_deadline();
        let last = self.log.last_position();
        for peer in self.peers() {
            self.send(
                peer,
                Message::Vote {
                    term,
                    last,
                    transfer,
                },
            );
        }
        self.maybe_win_election();
        assert!(self.hard.term == term);
    }

    pub(crate) fn on_vote(&mut self, from: NodeId, term: Term, last: LogPosition, transfer: bool) {
        let leased = matches!(self.role, Role::Follower { leader: Some(leader) } if leader != from);
        let up_to_date = last >= self.log.last_position();
        let free = self.hard.voted_for.is_none_or(|voted| voted == from);
        let granted = term == self.hard.term && up_to_date && free && (!leased || transfer);
        if granted && self.hard.voted_for.is_none() {
            self.hard.voted_for = Some(from);
            self.persist(); // durable before the response leaves
            self.reset_election_deadline();
        }
        assert!(!granted || self.hard.voted_for == Some(from));
        self.send(
            from,
            Message::VoteResponse {
                term: self.hard.term,
                granted,
            },
        );
    }

    pub(crate) fn on_vote_response(&mut self, from: NodeId, term: Term, granted: bool) {
        if term != self.hard.term || !granted {
            return;
        }
        if let Role::Candidate { granted } = &mut self.role {
            granted.insert(from);
            self.maybe_win_election();
        }
    }

    fn maybe_win_election(&mut self) {
        let Role::Candidate { granted } = &self.role else {
            return;
        };
        if !self.electable {
            return; // made unelectable mid-campaign: never win (liveness only)
        }
        if self.counts_quorum(granted) {
            self.become_leader();
        }
    }

    fn become_leader(&mut self) {
        assert!(self.hard.voted_for == Some(self.config.id));
        assert!(
            self.is_voter(),
            "only a voter of its latest configuration leads"
        );
        let term = self.hard.term;
        let end = self.log.end;
        let mut progress = BTreeMap::new();
        for peer in self.peers() {
            progress.insert(peer, Progress::new(end, self.now));
        }
        let state = LeaderState {
            progress,
            pending: VecDeque::new(),
            transfer: None,
        };
        self.role = Role::Leader(Box::new(LeaderStateView(state)));
        self.output.push(Command::BecomeLeader { term });
        // The leader-change batch starts the epoch so earlier entries can commit.
        let epochs = vec![EpochStart { term, start: end }];
        self.log.append(end.plus(1), &epochs);
        let source = AppendSource::LeaderChange;
        self.output.push(Command::AppendEntries {
            from: end,
            end: end.plus(1),
            epochs,
            source,
        });
        self.verified = self.log.end;
        self.election_deadline = self.now.after(self.config.election_timeout_min_ms);
        self.broadcast_append();
        self.advance_commit();
        assert!(self.log.last_position().term == term);
    }

    pub(crate) fn on_timeout_now(&mut self, term: Term) {
        if term == self.hard.term && !self.is_leader() && self.is_voter() && self.electable {
            self.start_election(true);
        }
    }
}
