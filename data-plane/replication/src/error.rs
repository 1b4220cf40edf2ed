//! Operating errors the engine reports to its caller.

use crate::types::{NodeId, Offset};

/// Why the engine refused an input; broken invariants are assertions instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("invalid config: {0}")]
    InvalidConfig(String),
    #[error("node {0} is not a voter of this group")]
    UnknownNode(NodeId),
    #[error("restored log is inconsistent: {0}")]
    InvalidLog(String),
    #[error("durable end {durable} is above log end {end}")]
    DurableAboveEnd { durable: Offset, end: Offset },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
