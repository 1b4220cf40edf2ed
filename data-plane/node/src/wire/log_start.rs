//! Tag 9, `LogStart`: a node-level message (not the engine's) from a leader
//! to a follower whose next needed entry lies below the leader's log start
//! (deleted by retention; the engine's `SendSnapshot`). For a Kafka partition
//! the "snapshot" is empty: the follower restarts its log at `start`.
//!
//! ```text
//! 9 LogStart  term i32, start i64, epoch term i32, epoch start i64
//! ```
//! `epoch` is the leader's epoch in effect at `start - 1` and the offset it
//! began at; canonical: `start > 0`, `0 < epoch term <= term`,
//! `epoch start < start`.

use fjord_replication::log::EpochStart;
use fjord_replication::{Offset, Term};

use super::WireError;
use super::reader::Reader;

pub(super) const TAG_LOG_START: u8 = 9;
pub(super) const BODY_BYTES: usize = 4 + 8 + 4 + 8;

/// The leader's log starts at `start`: restart the log there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogStart {
    /// The leader's term.
    pub term: Term,
    pub start: Offset,
    /// The epoch covering `start - 1` (it may begin below `start`).
    pub epoch: EpochStart,
}

impl LogStart {
    pub fn is_well_formed(&self) -> bool {
        self.start > Offset::ZERO
            && self.epoch.term > Term::ZERO
            && self.epoch.term <= self.term
            && self.epoch.start < self.start
    }
}

pub(super) fn encode(notice: &LogStart, out: &mut Vec<u8>) {
    assert!(notice.is_well_formed(), "only well-formed notices are sent");
    out.push(TAG_LOG_START);
    out.extend_from_slice(&notice.term.0.to_be_bytes());
    out.extend_from_slice(&notice.start.0.to_be_bytes());
    out.extend_from_slice(&notice.epoch.term.0.to_be_bytes());
    out.extend_from_slice(&notice.epoch.start.0.to_be_bytes());
}

pub(super) fn decode(reader: &mut Reader<'_>) -> Result<LogStart, WireError> {
    let notice = LogStart {
        term: reader.term()?,
        start: reader.offset()?,
        epoch: EpochStart {
            term: reader.term()?,
            start: reader.offset()?,
        },
    };
    if !notice.is_well_formed() {
        return Err(WireError::Invalid("log start notice out of order"));
    }
    Ok(notice)
}
