//! Tag 9, `LogStart`: a node-level message (not the engine's) from a leader
//! to a follower whose next needed entry lies below the leader's log start
//! (deleted by retention; the engine's `SendSnapshot`). For a Kafka partition
//! the "snapshot" is empty: the follower restarts its log at `start`.
//!
//! ```text
//! 9 LogStart  term i32, start i64, epoch term i32, epoch start i64,
//!             configs u32 (0 or 1) * (offset i64, voters u32 (>= 1) * id u32)
//! ```
//! `epoch` is the leader's epoch in effect at `start - 1` and the offset it
//! began at; the configuration entry, if any, is the one in effect at
//! `start - 1` (the leader's latest below `start`; none: the initial
//! configuration). Canonical: `start > 0`, `0 < epoch term <= term`,
//! `epoch start < start`, configuration offset `< start`, voters ascending.

use fjord_replication::log::{ConfigEntry, EpochStart};
use fjord_replication::{Offset, Term};

use super::WireError;
use super::configs::{decode_configs, encode_configs};
use super::reader::Reader;

pub(super) const TAG_LOG_START: u8 = 9;

/// The leader's log starts at `start`: restart the log there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogStart {
    /// The leader's term.
    pub term: Term,
    pub start: Offset,
    /// The epoch covering `start - 1` (it may begin below `start`).
    pub epoch: EpochStart,
    /// The configuration in effect at `start - 1`, if the log set one.
    pub config: Option<ConfigEntry>,
}

impl LogStart {
    pub fn is_well_formed(&self) -> bool {
        let config_ok = self
            .config
            .as_ref()
            .is_none_or(|c| c.offset < self.start && c.is_well_formed());
        self.start > Offset::ZERO
            && self.epoch.term > Term::ZERO
            && self.epoch.term <= self.term
            && self.epoch.start < self.start
            && config_ok
    }

    /// Bytes of the body after the tag.
    pub(super) fn encoded_len(&self) -> usize {
        let config = self
            .config
            .as_ref()
            .map_or(0, |c| 8 + 4 + 4 * c.voters.len());
        4 + 8 + 4 + 8 + 4 + config
    }
}

pub(super) fn encode(notice: &LogStart, out: &mut Vec<u8>) {
    assert!(notice.is_well_formed(), "only well-formed notices are sent");
    out.push(TAG_LOG_START);
    out.extend_from_slice(&notice.term.0.to_be_bytes());
    out.extend_from_slice(&notice.start.0.to_be_bytes());
    out.extend_from_slice(&notice.epoch.term.0.to_be_bytes());
    out.extend_from_slice(&notice.epoch.start.0.to_be_bytes());
    encode_configs(notice.config.as_slice(), out);
}

pub(super) fn decode(reader: &mut Reader<'_>) -> Result<LogStart, WireError> {
    let notice = LogStart {
        term: reader.term()?,
        start: reader.offset()?,
        epoch: EpochStart {
            term: reader.term()?,
            start: reader.offset()?,
        },
        config: {
            let mut configs = decode_configs(reader, true)?;
            if configs.len() > 1 {
                return Err(WireError::Invalid(
                    "a log start notice holds one configuration",
                ));
            }
            configs.pop()
        },
    };
    if !notice.is_well_formed() {
        return Err(WireError::Invalid("log start notice out of order"));
    }
    Ok(notice)
}
