//! Newtypes for the quantities the engine deals in.

use std::fmt;

/// A Raft term, which is the Kafka leader epoch of the partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Term(pub i32);

impl Term {
    /// The term before any election; no entry is ever stamped with it.
    pub const ZERO: Term = Term(0);

    /// The next term.
    pub fn next(self) -> Term {
        Term(
            self.0
                .checked_add(1)
                .expect("terms stay far below i32::MAX"),
        )
    }
}

/// A Kafka offset: the position of a record in the partition log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Offset(pub i64);

impl Offset {
    pub const ZERO: Offset = Offset(0);

    /// The offset `count` records later.
    pub fn plus(self, count: i64) -> Offset {
        assert!(count >= 0, "offsets only move forward");
        Offset(
            self.0
                .checked_add(count)
                .expect("offsets stay below i64::MAX"),
        )
    }

    /// The previous offset; the caller knows `self` is above zero.
    pub fn previous(self) -> Offset {
        assert!(self.0 > 0, "offset zero has no predecessor");
        Offset(self.0 - 1)
    }
}

/// A replica's id in the group (the Kafka broker id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub u32);

/// The node's monotonic clock in milliseconds; only differences matter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Millis(pub u64);

impl Millis {
    /// `self + duration`, saturating.
    pub fn after(self, duration_ms: u64) -> Millis {
        Millis(self.0.saturating_add(duration_ms))
    }
}

/// Identifies a client append so its reply can be routed back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u64);

/// The last entry of a log: `(offset, term)`, or `None` for an empty log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct LogPosition {
    /// The term of the last entry (`Term::ZERO` when empty).
    pub term: Term,
    /// The log end offset (one past the last entry).
    pub end: Offset,
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for Offset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
