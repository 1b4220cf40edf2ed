//! The membership history of one group (its configuration entries, the
//! engine's `LogState::configs`), kept beside the log in `group-N/membership`
//! so a restarted node knows its configuration. The log holds each entry as
//! a control batch but storage does not index them; this file does.
//!
//! Format: `"FJMS"`, version u16 = 1, count u32, then per entry offset i64,
//! voters u32, id u32 * voters; then CRC-32C u32 of everything before it.
//! All big-endian. Replaced atomically (`fjord_storage::replace_file`).
//!
//! Kept in step with the log: written before an append that adds an entry
//! (so a durable entry is always in the file), and after a truncation that
//! drops one. Entries at or beyond the log end (an append lost in a crash)
//! are dropped at open.

use std::fs;
use std::path::{Path, PathBuf};

use fjord_replication::log::ConfigEntry;
use fjord_replication::{NodeId, Offset};

use crate::error::{Error, Result};

const MAGIC: &[u8; 4] = b"FJMS";
const VERSION: u16 = 1;
const FILE_NAME: &str = "membership";
/// Far more than any group keeps (one entry per change still in the log).
const ENTRIES_MAX: usize = 65_536;

fn encode(configs: &[ConfigEntry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + configs.len() * 24);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_be_bytes());
    let count = u32::try_from(configs.len()).expect("bounded by ENTRIES_MAX");
    out.extend_from_slice(&count.to_be_bytes());
    for config in configs {
        out.extend_from_slice(&config.offset.0.to_be_bytes());
        let voters = u32::try_from(config.voters.len()).expect("a few voters");
        out.extend_from_slice(&voters.to_be_bytes());
        for voter in &config.voters {
            out.extend_from_slice(&voter.0.to_be_bytes());
        }
    }
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

fn decode(bytes: &[u8]) -> Result<Vec<ConfigEntry>, &'static str> {
    let body_len = bytes.len().checked_sub(4).ok_or("too short")?;
    let (body, crc) = bytes.split_at(body_len);
    let crc = u32::from_be_bytes(crc.try_into().expect("4 bytes"));
    if crc32c::crc32c(body) != crc {
        return Err("checksum mismatch");
    }
    let mut at = 0usize;
    let mut take = |n: usize| -> Result<&[u8], &'static str> {
        let slice = body.get(at..at + n).ok_or("truncated")?;
        at += n;
        Ok(slice)
    };
    if take(4)? != MAGIC {
        return Err("bad magic");
    }
    if u16::from_be_bytes(take(2)?.try_into().expect("2 bytes")) != VERSION {
        return Err("unsupported version");
    }
    let count = u32::from_be_bytes(take(4)?.try_into().expect("4 bytes")) as usize;
    if count > ENTRIES_MAX {
        return Err("too many entries");
    }
    let mut configs: Vec<ConfigEntry> = Vec::new();
    for _ in 0..count {
        let offset = Offset(i64::from_be_bytes(take(8)?.try_into().expect("8 bytes")));
        let voters = u32::from_be_bytes(take(4)?.try_into().expect("4 bytes")) as usize;
        let mut entry = ConfigEntry {
            offset,
            voters: Vec::new(),
        };
        for _ in 0..voters {
            let id = u32::from_be_bytes(take(4)?.try_into().expect("4 bytes"));
            entry.voters.push(NodeId(id));
        }
        let rising = configs.last().is_none_or(|last| last.offset < offset);
        if offset.0 < 0 || !rising || !entry.is_well_formed() {
            return Err("entries out of order or malformed");
        }
        configs.push(entry);
    }
    if at != body.len() {
        return Err("trailing bytes");
    }
    Ok(configs)
}

/// Where one group keeps its membership history.
#[derive(Debug, Clone)]
pub(crate) struct MembershipFile {
    path: PathBuf,
}

impl MembershipFile {
    pub(crate) fn new(directory: &Path) -> MembershipFile {
        MembershipFile {
            path: directory.join(FILE_NAME),
        }
    }

    fn error(&self, reason: impl ToString) -> Error {
        Error::MembershipFile {
            path: self.path.display().to_string(),
            reason: reason.to_string(),
        }
    }

    /// The stored history; empty for a group that never changed membership.
    pub(crate) fn load(&self) -> Result<Vec<ConfigEntry>> {
        match fs::read(&self.path) {
            Ok(bytes) => decode(&bytes).map_err(|reason| self.error(reason)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(error) => Err(self.error(error)),
        }
    }

    /// Durably replaces the history.
    pub(crate) fn store(&self, configs: &[ConfigEntry]) -> Result<()> {
        if configs.len() > ENTRIES_MAX {
            return Err(self.error("too many configuration entries"));
        }
        fjord_storage::replace_file(&self.path, &encode(configs)).map_err(|error| self.error(error))
    }
}

/// The history as the engine needs it for a log `[start, end)`: entries at
/// or beyond `end` dropped (lost with the log's tail), and of those below
/// `start` only the last (the configuration still in effect there).
pub(crate) fn restore(configs: &[ConfigEntry], start: Offset, end: Offset) -> Vec<ConfigEntry> {
    let mut kept: Vec<ConfigEntry> = configs.iter().filter(|c| c.offset < end).cloned().collect();
    if let Some(in_effect) = kept.iter().rposition(|c| c.offset < start) {
        kept.drain(..in_effect);
    }
    assert!(kept.iter().skip(1).all(|c| c.offset >= start));
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(offset: i64, voters: &[u32]) -> ConfigEntry {
        ConfigEntry {
            offset: Offset(offset),
            voters: voters.iter().copied().map(NodeId).collect(),
        }
    }

    #[test]
    fn membership_history_round_trips_and_damage_is_refused() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let file = MembershipFile::new(directory.path());
        assert!(file.load().expect("missing is empty").is_empty());
        let history = vec![entry(4, &[0, 1]), entry(9, &[0, 1, 3])];
        file.store(&history).expect("store");
        assert_eq!(file.load().expect("load"), history);
        let path = directory.path().join(FILE_NAME);
        let mut bytes = fs::read(&path).expect("read");
        bytes[12] ^= 1;
        fs::write(&path, &bytes).expect("write");
        assert!(file.load().is_err());
    }

    #[test]
    fn restoring_drops_entries_past_the_end_and_keeps_the_one_in_effect_at_the_start() {
        let history = vec![entry(2, &[0]), entry(5, &[0, 1]), entry(9, &[0, 1, 2])];
        assert_eq!(restore(&history, Offset(0), Offset(9)), history[..2]);
        assert_eq!(restore(&history, Offset(6), Offset(20)), history[1..]);
        assert_eq!(restore(&history, Offset(0), Offset(2)), Vec::new());
    }
}
