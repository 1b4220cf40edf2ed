//! What the engine consumes (`Input`, `Message`) and emits (`Command`).

use crate::log::{ConfigEntry, EpochStart};
use crate::types::{LogPosition, NodeId, Offset, RequestId, Term};

/// A message between replicas of one group.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Message {
    /// Would you vote for me at `term`? Changes no state on either side.
    PreVote {
        term: Term,
        last: LogPosition,
    },
    PreVoteResponse {
        term: Term,
        granted: bool,
    },
    /// `transfer` is set when the leader asked for this election (TimeoutNow).
    Vote {
        term: Term,
        last: LogPosition,
        transfer: bool,
    },
    VoteResponse {
        term: Term,
        granted: bool,
    },
    /// Entries `[from, end)`; the transport attaches their bytes.
    Append {
        term: Term,
        from: Offset,
        prev_term: Term,
        end: Offset,
        epochs: Vec<EpochStart>,
        /// The configuration entries in `[from, end)` (usually none).
        configs: Vec<ConfigEntry>,
        commit: Offset,
    },
    AppendResponse {
        term: Term,
        result: AppendResult,
    },
    /// Leadership transfer: campaign now.
    TimeoutNow {
        term: Term,
    },
}

impl Message {
    pub fn term(&self) -> Term {
        match self {
            Message::PreVote { term, .. }
            | Message::PreVoteResponse { term, .. }
            | Message::Vote { term, .. }
            | Message::VoteResponse { term, .. }
            | Message::Append { term, .. }
            | Message::AppendResponse { term, .. }
            | Message::TimeoutNow { term } => *term,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AppendResult {
    /// The follower's log matches the leader's up to `verified`; `durable` of
    /// that is fsynced. `entries` is set only on the answer to an append that
    /// carried entries: only that answer frees one of the leader's in-flight
    /// slots (heartbeat and durability answers do not).
    Accepted {
        verified: Offset,
        durable: Offset,
        entries: bool,
    },
    /// The entry before `from` did not match; `hint` tells where to retry.
    Rejected { from: Offset, hint: RejectHint },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RejectHint {
    /// The follower's log ends before `from`.
    LogEnd(Offset),
    /// The follower has `term` at `from - 1`, starting at `start`.
    Conflict { term: Term, start: Offset },
}

/// Everything that can happen to the engine.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Input {
    /// Time passed; timers are checked.
    Tick,
    Message {
        from: NodeId,
        message: Message,
    },
    /// A producer batch of `records` offsets (leader only).
    ClientAppend {
        request: RequestId,
        records: u32,
    },
    /// Storage fsynced everything below `end` (of the current log).
    Durable {
        end: Offset,
    },
    /// Retention removed everything below `start`.
    LogStartAdvanced {
        start: Offset,
    },
    TransferLeadership {
        to: NodeId,
    },
    /// Add or remove one voter (leader only); answered like a client append:
    /// `Committed` once the configuration entry commits, or `Refused`.
    ChangeMembership {
        request: RequestId,
        change: MembershipChange,
    },
}

/// A single-server membership change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MembershipChange {
    AddVoter(NodeId),
    RemoveVoter(NodeId),
}

/// Why a membership change was refused; nothing was appended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, thiserror::Error)]
pub enum MembershipRefusal {
    #[error("an earlier membership change is not committed yet")]
    ChangeInProgress,
    #[error("the leader has not committed an entry of its own term yet")]
    LeaderNotSettled,
    #[error("node {0} is already a voter")]
    AlreadyVoter(NodeId),
    #[error("node {0} is not a voter")]
    NotAVoter(NodeId),
    #[error("the last voter cannot be removed")]
    LastVoter,
    #[error("a leadership transfer is in progress")]
    TransferInProgress,
}

/// Why entries are appended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AppendSource {
    /// The leader's control batch marking the start of its epoch.
    LeaderChange,
    Client(RequestId),
    /// A configuration entry the leader appended (one offset, a control
    /// batch); its voters are in the engine's `LogState::configs`.
    Membership(RequestId),
    /// Replicated from the leader; the bytes came with its `Append`.
    Replicated,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ReplyOutcome {
    /// Committed (acks=all): offsets `[first, end)`.
    Committed { first: Offset, end: Offset },
    /// This node is not (or no longer) the leader; the write may still commit.
    NotLeader { leader: Option<NodeId> },
    /// Too many appends wait for commit; retry later.
    Overloaded,
    /// A membership change was refused.
    Refused(MembershipRefusal),
}

/// What the node layer must do, in order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Command {
    /// Fsync the term and vote before executing any later command.
    PersistHardState {
        term: Term,
        voted_for: Option<NodeId>,
    },
    Send {
        to: NodeId,
        message: Message,
    },
    AppendEntries {
        from: Offset,
        end: Offset,
        epochs: Vec<EpochStart>,
        source: AppendSource,
    },
    /// Remove every entry at or above `end`.
    TruncateLog {
        end: Offset,
    },
    SetHighWatermark {
        end: Offset,
    },
    BecomeLeader {
        term: Term,
    },
    BecomeFollower {
        term: Term,
        leader: Option<NodeId>,
    },
    Reply {
        request: RequestId,
        outcome: ReplyOutcome,
    },
    /// The follower needs the log below the leader's log start: ship a snapshot.
    SendSnapshot {
        to: NodeId,
        start: Offset,
    },
}
