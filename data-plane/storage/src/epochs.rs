//! The leader-epoch history (DESIGN.md section 2.4): which epoch wrote which
//! offsets. It protects the unchecksummed epoch field of every batch and
//! answers replication's "end offset of epoch E" question.

use std::path::Path;

use crate::error::{Result, io_error};
use crate::file_cache::FileCache;
use crate::medium::parent_of;
use crate::types::{LeaderEpoch, Offset};

const MAGIC: &[u8; 4] = b"FJLE";
const VERSION: u16 = 1;
/// Bounded: a new entry needs a leader change; thousands is already absurd.
const ENTRIES_MAX: usize = 100_000;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct EpochHistory {
    /// (epoch, first offset written in it), both strictly increasing.
    entries: Vec<(LeaderEpoch, Offset)>,
}

impl EpochHistory {
    pub(crate) fn entries(&self) -> &[(LeaderEpoch, Offset)] {
        &self.entries
    }

    pub(crate) fn latest(&self) -> Option<(LeaderEpoch, Offset)> {
        self.entries.last().copied()
    }

    /// The epoch that wrote `offset`, if any entry covers it.
    pub(crate) fn epoch_at(&self, offset: Offset) -> Option<LeaderEpoch> {
        let after = self.entries.partition_point(|(_, start)| *start <= offset);
        after.checked_sub(1).map(|index| self.entries[index].0)
    }

    /// The first offset after the last one written in `epoch` or an earlier
    /// epoch, given the log end (Kafka's OffsetForLeaderEpoch answer).
    pub(crate) fn end_offset(&self, epoch: LeaderEpoch, log_end: Offset) -> Option<Offset> {
        let after = self.entries.partition_point(|(e, _)| *e <= epoch);
        if after == 0 {
            return None;
        }
        Some(self.entries.get(after).map_or(log_end, |(_, start)| *start))
    }

    /// Records that `epoch` starts writing at `start`. Returns whether it changed.
    pub(crate) fn assign(&mut self, epoch: LeaderEpoch, start: Offset) -> bool {
        if let Some((latest, latest_start)) = self.latest() {
            if epoch == latest {
                return false;
            }
            assert!(epoch > latest, "epochs only grow");
            assert!(start >= latest_start, "epoch starts only grow");
            if start == latest_start {
                // The previous epoch wrote nothing: replace it.
                self.entries.pop();
            }
        }
        assert!(
            self.entries.len() < ENTRIES_MAX,
            "leader epoch history too long"
        );
        self.entries.push((epoch, start));
        true
    }

    /// Drops entries starting at or after `offset` (suffix truncation).
    pub(crate) fn truncate_from(&mut self, offset: Offset) -> bool {
        let keep = self.entries.partition_point(|(_, start)| *start < offset);
        let changed = keep < self.entries.len();
        self.entries.truncate(keep);
        changed
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(14 + self.entries.len() * 12);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_be_bytes());
        let count = u32::try_from(self.entries.len()).expect("bounded by ENTRIES_MAX");
        out.extend_from_slice(&count.to_be_bytes());
        for (epoch, start) in &self.entries {
            out.extend_from_slice(&epoch.0.to_be_bytes());
            out.extend_from_slice(&start.0.to_be_bytes());
        }
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_be_bytes());
        out
    }

    /// Decodes the file, or `None` if it fails any check.
    pub(crate) fn decode(bytes: &[u8]) -> Option<EpochHistory> {
        if bytes.len() < 14 || &bytes[0..4] != MAGIC {
            return None;
        }
        let crc_at = bytes.len() - 4;
        let crc = u32::from_be_bytes(bytes[crc_at..].try_into().ok()?);
        if crc32c::crc32c(&bytes[..crc_at]) != crc || bytes[4..6] != VERSION.to_be_bytes() {
            return None;
        }
        let count = u32::from_be_bytes(bytes[6..10].try_into().ok()?) as usize;
        if count > ENTRIES_MAX || crc_at != 10 + count * 12 {
            return None;
        }
        let entries: Vec<(LeaderEpoch, Offset)> = bytes[10..crc_at]
            .chunks_exact(12)
            .map(|e| {
                let epoch = i32::from_be_bytes([e[0], e[1], e[2], e[3]]);
                let start = i64::from_be_bytes(e[4..12].try_into().unwrap_or([0; 8]));
                (LeaderEpoch(epoch), Offset(start))
            })
            .collect();
        let increasing = entries
            .windows(2)
            .all(|w| w[0].0 < w[1].0 && w[0].1 < w[1].1);
        let valid = entries
            .iter()
            .all(|(epoch, start)| epoch.0 >= 0 && start.0 >= 0);
        (increasing && valid).then_some(EpochHistory { entries })
    }

    /// Reads the history file; `Ok(None)` if it is missing or invalid.
    pub(crate) fn load(cache: &FileCache, path: &Path) -> Result<Option<EpochHistory>> {
        let file = match cache.medium().open(path, false) {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(io_error(path)(error)),
        };
        let len = file.len().map_err(io_error(path))?;
        if len > (ENTRIES_MAX * 12 + 14) as u64 {
            return Ok(None);
        }
        let mut bytes = vec![0u8; len as usize];
        file.read_exact_at(&mut bytes, 0).map_err(io_error(path))?;
        Ok(EpochHistory::decode(&bytes))
    }

    /// Replaces the file atomically: temporary file, sync, rename, directory sync.
    pub(crate) fn store(&self, cache: &FileCache, path: &Path) -> Result<()> {
        let temporary = path.with_extension("tmp");
        let medium = cache.medium();
        medium.remove(&temporary).map_err(io_error(&temporary))?;
        let file = medium
            .open(&temporary, true)
            .map_err(io_error(&temporary))?;
        file.write_at(&self.encode(), 0)
            .map_err(io_error(&temporary))?;
        file.sync_data().map_err(io_error(&temporary))?;
        drop(file);
        medium.rename(&temporary, path).map_err(io_error(path))?;
        let directory = parent_of(path);
        medium.sync_dir(&directory).map_err(io_error(&directory))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_map_offsets_and_end_offsets() {
        let mut history = EpochHistory::default();
        assert!(history.assign(LeaderEpoch(1), Offset(0)));
        assert!(!history.assign(LeaderEpoch(1), Offset(5)));
        assert!(history.assign(LeaderEpoch(3), Offset(10)));
        assert_eq!(history.epoch_at(Offset(9)), Some(LeaderEpoch(1)));
        assert_eq!(history.epoch_at(Offset(10)), Some(LeaderEpoch(3)));
        assert_eq!(
            history.end_offset(LeaderEpoch(2), Offset(20)),
            Some(Offset(10))
        );
        assert_eq!(
            history.end_offset(LeaderEpoch(3), Offset(20)),
            Some(Offset(20))
        );
        assert_eq!(
            EpochHistory::decode(&history.encode()),
            Some(history.clone())
        );
        assert!(history.truncate_from(Offset(10)));
        assert_eq!(history.latest(), Some((LeaderEpoch(1), Offset(0))));
    }
}
