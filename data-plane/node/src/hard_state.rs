//! The Raft hard state (term and vote) of one group: a 24-byte file replaced
//! atomically (write a temporary file, fsync it, rename it over the old one,
//! fsync the directory) so a crash leaves either the old or the new state.
//!
//! Format: `"FJHS"`, version u16 = 1, term i32, voted-for flag u8, voted-for
//! u32, padding u8, CRC-32C u32 of the preceding 16 bytes; all big-endian.

use std::fs;
use std::path::{Path, PathBuf};

use fjord_replication::{HardState, NodeId, Term};

use crate::error::{Error, Result};

const MAGIC: &[u8; 4] = b"FJHS";
const VERSION: u16 = 1;
const FILE_BYTES: usize = 20;
pub(crate) const FILE_NAME: &str = "raft-state";

fn encode(state: HardState) -> [u8; FILE_BYTES] {
    let mut out = [0u8; FILE_BYTES];
    out[0..4].copy_from_slice(MAGIC);
    out[4..6].copy_from_slice(&VERSION.to_be_bytes());
    out[6..10].copy_from_slice(&state.term.0.to_be_bytes());
    out[10] = u8::from(state.voted_for.is_some());
    out[11..15].copy_from_slice(&state.voted_for.map_or(0, |n| n.0).to_be_bytes());
    let crc = crc32c::crc32c(&out[..16]);
    out[16..20].copy_from_slice(&crc.to_be_bytes());
    out
}

fn decode(bytes: &[u8]) -> Result<HardState, &'static str> {
    if bytes.len() != FILE_BYTES {
        return Err("wrong size");
    }
    if &bytes[0..4] != MAGIC {
        return Err("bad magic");
    }
    let crc = u32::from_be_bytes(bytes[16..20].try_into().expect("4 bytes"));
    if crc32c::crc32c(&bytes[..16]) != crc {
        return Err("checksum mismatch");
    }
    if u16::from_be_bytes([bytes[4], bytes[5]]) != VERSION {
        return Err("unsupported version");
    }
    let term = i32::from_be_bytes(bytes[6..10].try_into().expect("4 bytes"));
    let voter = u32::from_be_bytes(bytes[11..15].try_into().expect("4 bytes"));
    let voted_for = match bytes[10] {
        0 => None,
        1 => Some(NodeId(voter)),
        _ => return Err("bad vote flag"),
    };
    if term < 0 {
        return Err("negative term");
    }
    Ok(HardState {
        term: Term(term),
        voted_for,
    })
}

/// Where one group keeps its hard state.
#[derive(Debug, Clone)]
pub(crate) struct HardStateFile {
    path: PathBuf,
}

impl HardStateFile {
    pub(crate) fn new(directory: &Path) -> HardStateFile {
        HardStateFile {
            path: directory.join(FILE_NAME),
        }
    }

    fn error(&self, reason: impl ToString) -> Error {
        Error::HardState {
            path: self.path.display().to_string(),
            reason: reason.to_string(),
        }
    }

    /// The stored state; the default for a group that never persisted one.
    /// A damaged file is an error: it was replaced atomically, so damage
    /// means the medium failed and the replica must not guess its vote.
    pub(crate) fn load(&self) -> Result<HardState> {
        match fs::read(&self.path) {
            Ok(bytes) => decode(&bytes).map_err(|reason| self.error(reason)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(HardState::default()),
            Err(error) => Err(self.error(error)),
        }
    }

    /// Durably replaces the state; returns only once it survives a crash.
    pub(crate) fn store(&self, state: HardState) -> Result<()> {
        fjord_storage::replace_file(&self.path, &encode(state)).map_err(|error| self.error(error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hard_state_round_trips_and_damage_is_refused() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let file = HardStateFile::new(directory.path());
        assert_eq!(
            file.load().expect("missing is default"),
            HardState::default()
        );
        let state = HardState {
            term: Term(7),
            voted_for: Some(NodeId(2)),
        };
        file.store(state).expect("store");
        assert_eq!(file.load().expect("load"), state);
        let mut bytes = fs::read(directory.path().join(FILE_NAME)).expect("read");
        bytes[7] ^= 1;
        fs::write(directory.path().join(FILE_NAME), &bytes).expect("write");
        assert!(file.load().is_err());
    }
}
