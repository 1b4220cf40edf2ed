//! The engine: state, the `step` entry point, timers and role changes.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::log::LogState;
use crate::message::{Command, Input, Message, ReplyOutcome};
use crate::progress::Progress;
use crate::types::{Millis, NodeId, Offset, RequestId, Term};

/// A client append waiting for the high watermark to pass `end`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Pending {
    pub(crate) request: RequestId,
    pub(crate) first: Offset,
    pub(crate) end: Offset,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct LeaderState {
    pub(crate) progress: BTreeMap<NodeId, Progress>,
    pub(crate) pending: VecDeque<Pending>,
    /// Leadership transfer in progress: target and abort deadline.
    pub(crate) transfer: Option<(NodeId, Millis)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Role {
    /// `leader` is set while this node follows a live leader (its lease).
    Follower {
        leader: Option<NodeId>,
    },
    PreCandidate {
        granted: BTreeSet<NodeId>,
    },
    Candidate {
        granted: BTreeSet<NodeId>,
    },
    Leader(Box<LeaderStateView>),
}

/// Opaque leader bookkeeping, boxed to keep `Role` small.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LeaderStateView(pub(crate) LeaderState);

/// The leader's view of one follower, for operators (in-sync replicas).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FollowerProgress {
    pub id: NodeId,
    /// Durable end the follower confirmed (counts toward commit).
    pub matched: Offset,
    /// End of the prefix known to match the leader's log.
    pub verified: Offset,
    /// When the follower last answered (engine time).
    pub last_heard: Millis,
}

/// What must survive a crash besides the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct HardState {
    pub term: Term,
    pub voted_for: Option<NodeId>,
}

/// One replica of a Raft group. See `docs/replication.md`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Engine {
    pub(crate) config: Config,
    pub(crate) hard: HardState,
    pub(crate) log: LogState,
    /// High watermark: entries below it are committed.
    pub(crate) commit: Offset,
    /// End of the prefix known to match the current leader's log.
    pub(crate) verified: Offset,
    pub(crate) role: Role,
    pub(crate) now: Millis,
    pub(crate) election_deadline: Millis,
    pub(crate) heartbeat_deadline: Millis,
    pub(crate) rng: u64,
    /// Whether this node may start an election (pre-vote, or a `TimeoutNow`
    /// transfer). Liveness only: it never changes what is safe to do.
    pub(crate) electable: bool,
    pub(crate) output: Vec<Command>,
}

impl Engine {
    /// Restores a replica from its persisted state (a fresh one has defaults).
    pub fn new(config: Config, hard: HardState, log: LogState, now: Millis) -> Result<Engine> {
        config.validate()?;
        if !log.is_consistent() {
            return Err(Error::InvalidLog(format!("{log:?}")));
        }
        if log.last_position().term > hard.term {
            return Err(Error::InvalidLog(
                "log holds a term above the current term".into(),
            ));
        }
        let rng = config.seed | 1;
        let mut engine = Engine {
            config,
            hard,
            commit: log.start,
            verified: log.start,
            log,
            role: Role::Follower { leader: None },
            now,
            election_deadline: now,
            heartbeat_deadline: now,
            rng,
            electable: true,
            output: Vec::new(),
        };
        engine.reset_election_deadline();
        Ok(engine)
    }

    /// Feeds one input; returns the commands to execute in order.
    pub fn step(&mut self, now: Millis, input: Input) -> Vec<Command> {
        assert!(self.output.is_empty());
        self.now = self.now.max(now);
        match input {
            Input::Tick => self.tick(),
            Input::Message { from, message } => self.receive(from, message),
            Input::ClientAppend { request, records } => self.client_append(request, records),
            Input::Durable { end } => self.durable(end),
            Input::LogStartAdvanced { start } => self.log_start_advanced(start),
            Input::TransferLeadership { to } => self.transfer_leadership(to),
            Input::ChangeMembership { request, change } => self.change_membership(request, change),
        }
        self.check_invariants();
        std::mem::take(&mut self.output)
    }

    pub fn id(&self) -> NodeId {
        self.config.id
    }
    pub fn term(&self) -> Term {
        self.hard.term
    }
    pub fn hard_state(&self) -> HardState {
        self.hard
    }
    pub fn log(&self) -> &LogState {
        &self.log
    }
    pub fn high_watermark(&self) -> Offset {
        self.commit
    }
    pub fn role(&self) -> &Role {
        &self.role
    }
    pub fn is_leader(&self) -> bool {
        matches!(self.role, Role::Leader(_))
    }
    /// Maintenance mode: while `false`, this node starts no election (no
    /// pre-vote when its timer fires, no election on `TimeoutNow`); it still
    /// votes, follows and, if it leads, keeps leading. Changes nothing that
    /// safety depends on: a node that never campaigns is a valid Raft node.
    pub fn set_electable(&mut self, electable: bool) {
        self.electable = electable;
    }
    pub fn is_electable(&self) -> bool {
        self.electable
    }
    /// What the leader knows of each follower (empty on a follower).
    pub fn followers(&self) -> Vec<FollowerProgress> {
        let Role::Leader(state) = &self.role else {
            return Vec::new();
        };
        let progress = state.0.progress.iter().map(|(id, p)| FollowerProgress {
            id: *id,
            matched: p.matched,
            verified: p.verified,
            last_heard: p.last_heard,
        });
        progress.collect()
    }
    /// The earliest time a `Tick` can change anything.
    pub fn next_deadline(&self) -> Millis {
        match self.role {
            Role::Leader(_) => self.heartbeat_deadline.min(self.election_deadline),
            _ => self.election_deadline,
        }
    }

    fn tick(&mut self) {
        if self.is_leader() {
            self.leader_tick();
        } else if self.now >= self.election_deadline {
            if !self.is_voter() {
                self.reset_election_deadline(); // not in the configuration: never campaign
            } else if self.electable {
                self.start_pre_vote();
            } else {
                // Maintenance: never campaign, but the leader's lease has
                // expired as for any follower, so pre-votes of other
                // candidates are granted again.
                let term = self.hard.term;
                self.become_follower(term, None);
            }
        }
    }

    fn receive(&mut self, from: NodeId, message: Message) {
        if from == self.config.id {
            return;
        }
        // Messages are handled whatever the sender's membership (Raft thesis
        // §4.2.3): a new voter's vote requests must reach voters that have not
        // seen its configuration yet. Only votes of current voters are
        // counted, and only current voters are replicated to.
        let term = message.term();
        let is_pre_vote = matches!(
            message,
            Message::PreVote { .. } | Message::PreVoteResponse { .. }
        );
        let leased = matches!(
            self.role,
            Role::Leader(_) | Role::Follower { leader: Some(_) }
        );
        if leased
            && term > self.hard.term
            && matches!(
                message,
                Message::Vote {
                    transfer: false,
                    ..
                }
            )
        {
            return; // a live leader exists: a disruptive candidate is ignored
        }
        if term > self.hard.term && !is_pre_vote {
            let leader = matches!(message, Message::Append { .. }).then_some(from);
            self.become_follower(term, leader);
        }
        match message {
            Message::PreVote { term, last } => self.on_pre_vote(from, term, last),
            Message::PreVoteResponse { term, granted } => {
                self.on_pre_vote_response(from, term, granted)
            }
            Message::Vote {
                term,
                last,
                transfer,
            } => self.on_vote(from, term, last, transfer),
            Message::VoteResponse { term, granted } => self.on_vote_response(from, term, granted),
            Message::Append {
                term,
                from: start,
                prev_term,
                end,
                epochs,
                configs,
                commit,
            } => self.on_append(from, term, start, prev_term, end, (epochs, configs), commit),
            Message::AppendResponse { term, result } => self.on_append_response(from, term, result),
            Message::TimeoutNow { term } => self.on_timeout_now(term),
        }
    }

    fn durable(&mut self, end: Offset) {
        let end = end.min(self.log.end);
        if end <= self.log.durable {
            return;
        }
        self.log.durable = end;
        if self.is_leader() {
            self.advance_commit();
        } else if let Role::Follower {
            leader: Some(leader),
        } = self.role
        {
            self.send_accept(leader, false);
        }
        assert!(self.log.durable <= self.log.end);
    }

    fn log_start_advanced(&mut self, start: Offset) {
        assert!(
            start <= self.commit,
            "retention only removes committed entries"
        );
        if start <= self.log.start {
            return;
        }
        self.log.start_term = self
            .log
            .term_before(start)
            .expect("start is inside the log");
        self.log.start = start;
        self.log
            .epochs
            .retain(|e| e.start >= start || e.term == self.log.start_term);
        self.log.forget_configs_below(start);
        assert!(self.log.is_consistent());
    }

    pub(crate) fn persist(&mut self) {
        self.output.push(Command::PersistHardState {
            term: self.hard.term,
            voted_for: self.hard.voted_for,
        });
    }

    pub(crate) fn send(&mut self, to: NodeId, message: Message) {
        assert!(to != self.config.id, "never send to self");
        self.output.push(Command::Send { to, message });
    }

    /// Every other voter of the latest configuration.
    pub(crate) fn peers(&self) -> Vec<NodeId> {
        let me = self.config.id;
        self.voters().iter().copied().filter(|v| *v != me).collect()
    }

    /// Steps down (or stays follower) at `term`, which may be the current one.
    pub(crate) fn become_follower(&mut self, term: Term, leader: Option<NodeId>) {
        assert!(term >= self.hard.term, "terms never go back");
        if term > self.hard.term {
            self.hard = HardState {
                term,
                voted_for: None,
            };
            self.persist();
            self.verified = self.commit;
        }
        if let Role::Leader(state) = &mut self.role {
            let pending = std::mem::take(&mut state.0.pending);
            for waiting in pending {
                let outcome = ReplyOutcome::NotLeader { leader };
                self.output.push(Command::Reply {
                    request: waiting.request,
                    outcome,
                });
            }
        }
        let changed = self.role != Role::Follower { leader };
        self.role = Role::Follower { leader };
        if changed {
            self.output.push(Command::BecomeFollower { term, leader });
        }
        self.reset_election_deadline();
    }

    pub(crate) fn reset_election_deadline(&mut self) {
        // xorshift64: deterministic jitter from the configured seed.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let span = self.config.election_timeout_max_ms - self.config.election_timeout_min_ms;
        let timeout = self.config.election_timeout_min_ms + self.rng % span;
        self.election_deadline = self.now.after(timeout);
        assert!(self.election_deadline > self.now);
    }

    fn check_invariants(&self) {
        assert!(self.log.is_consistent(), "log state broken: {:?}", self.log);
        assert!(self.commit <= self.log.end, "commit beyond the log end");
        assert!(self.commit <= self.verified.max(self.log.start) || self.is_leader());
        assert!(self.log.last_position().term <= self.hard.term);
        if let Role::Leader(state) = &self.role {
            let tracked: Vec<NodeId> = state.0.progress.keys().copied().collect();
            let mut peers = self.peers();
            peers.sort_unstable(); // the initial configuration may list voters in any order
            assert!(
                tracked == peers,
                "the leader tracks exactly the other voters"
            );
            for progress in state.0.progress.values() {
                assert!(progress.in_flight <= self.config.max_in_flight);
                assert!(progress.matched <= progress.verified);
            }
        }
    }
}
