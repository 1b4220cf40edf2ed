//! Errors of the node layer.

use fjord_replication::NodeId;

use crate::wire::GroupId;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// This replica does not lead the group; `leader` is the one it follows, if known.
    #[error("not the leader of group {group} (leader: {leader:?})")]
    NotLeader {
        group: GroupId,
        leader: Option<NodeId>,
    },
    #[error("group {0} is not hosted on this node")]
    UnknownGroup(GroupId),
    #[error("too many appends wait for commit in group {0}")]
    Overloaded(GroupId),
    #[error("membership change refused in group {group}: {refusal}")]
    MembershipRefused {
        group: GroupId,
        refusal: fjord_replication::MembershipRefusal,
    },
    /// The group was removed (`Node::remove_group`) while the request waited.
    #[error("group {0} was removed from this node")]
    GroupRemoved(GroupId),
    /// An administrative request the engine or node cannot carry out.
    #[error("request refused in group {group}: {reason}")]
    Refused { group: GroupId, reason: String },
    /// A `Node::with_log` callback panicked (on the driver thread; caught).
    #[error("the log callback panicked")]
    CallbackPanicked,
    #[error("invalid record batch: {0}")]
    InvalidBatch(String),
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    #[error("the node is stopped")]
    Stopped,
    #[error("hard state file {path}: {reason}")]
    HardState { path: String, reason: String },
    #[error("membership file {path}: {reason}")]
    MembershipFile { path: String, reason: String },
    #[error(transparent)]
    Storage(#[from] fjord_storage::Error),
    #[error(transparent)]
    Replication(#[from] fjord_replication::Error),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
