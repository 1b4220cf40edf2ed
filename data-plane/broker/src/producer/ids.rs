//! Durable producer-id allocation.
//!
//! `DATA_DIR/producer-ids.json` holds `reserved_end`: every id below it may
//! have been handed out. Ids are handed out from blocks of [`BLOCK`]: before
//! the first id of a block is returned, the block's end is written
//! atomically (temporary file, fsync, rename, fsync of the directory). A
//! restart starts at the recorded end, so an id is never reused even if the
//! process dies right after handing one out; at most one block is skipped.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

const FILE: &str = "producer-ids.json";
/// Ids reserved per write of the file.
const BLOCK: i64 = 1000;

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Reserved {
    reserved_end: i64,
}

/// Ids per broker of a cluster: broker `n` hands out ids from `n << 40`,
/// so brokers never hand out the same id without asking each other.
pub(crate) const CLUSTER_RANGE_BITS: u32 = 40;

/// Hands out producer ids that are never reused.
#[derive(Debug)]
pub struct ProducerIds {
    directory: PathBuf,
    /// Ids stay below this.
    limit: i64,
    /// (next id to hand out, end of the reserved block).
    next: Mutex<(i64, i64)>,
}

impl ProducerIds {
    /// Opens the allocator of the data directory `directory`.
    pub fn open(directory: &Path) -> Result<Self> {
        Self::open_range(directory, 0, i64::MAX)
    }

    /// A cluster broker's allocator: ids in its own range (see
    /// [`CLUSTER_RANGE_BITS`]).
    pub fn open_for_broker(directory: &Path, broker: u32) -> Result<Self> {
        let first = i64::from(broker) << CLUSTER_RANGE_BITS;
        let limit = (i64::from(broker) + 1) << CLUSTER_RANGE_BITS;
        Self::open_range(directory, first, limit)
    }

    fn open_range(directory: &Path, first: i64, limit: i64) -> Result<Self> {
        let path = directory.join(FILE);
        let reserved_end = match std::fs::read_to_string(&path) {
            Ok(text) => {
                let reserved: Reserved =
                    serde_json::from_str(&text).map_err(|error| Error::DataDirMetadata {
                        path: path.clone(),
                        reason: format!("{FILE}: {error}"),
                    })?;
                if reserved.reserved_end < 0 {
                    return Err(Error::DataDirMetadata {
                        path,
                        reason: format!("{FILE}: negative reserved_end"),
                    });
                }
                reserved.reserved_end
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => 0,
            Err(source) => return Err(Error::DataDir { path, source }),
        };
        let reserved_end = reserved_end.max(first);
        Ok(Self {
            directory: directory.to_owned(),
            limit,
            next: Mutex::new((reserved_end, reserved_end)),
        })
    }

    /// A producer id never handed out before. Blocks on an fsync once per
    /// [`BLOCK`] ids.
    pub fn allocate(&self) -> Result<i64> {
        let mut next = self
            .next
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (id, end) = *next;
        assert!(id <= end);
        if id == end {
            let new_end = end
                .checked_add(BLOCK)
                .filter(|new_end| *new_end <= self.limit)
                .ok_or_else(|| Error::DataDirMetadata {
                    path: self.directory.join(FILE),
                    reason: "producer ids exhausted".to_owned(),
                })?;
            self.write(new_end).map_err(|source| Error::DataDir {
                path: self.directory.join(FILE),
                source,
            })?;
            next.1 = new_end;
        }
        next.0 = id + 1;
        assert!(next.0 <= next.1);
        Ok(id)
    }

    fn write(&self, reserved_end: i64) -> std::io::Result<()> {
        let text = serde_json::to_vec(&Reserved { reserved_end }).map_err(std::io::Error::other)?;
        fjord_storage::replace_file(&self.directory.join(FILE), &text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_brokers_hand_out_disjoint_ids() {
        let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let first = ProducerIds::open_for_broker(one.path(), 1).unwrap();
        let second = ProducerIds::open_for_broker(two.path(), 2).unwrap();
        assert_eq!(first.allocate().unwrap(), 1 << CLUSTER_RANGE_BITS);
        assert_eq!(second.allocate().unwrap(), 2 << CLUSTER_RANGE_BITS);
        drop(first);
        let reopened = ProducerIds::open_for_broker(one.path(), 1).unwrap();
        assert!(reopened.allocate().unwrap() > 1 << CLUSTER_RANGE_BITS);
    }

    #[test]
    fn ids_are_unique_and_never_reused_after_reopen() {
        let directory = tempfile::tempdir().unwrap();
        let ids = ProducerIds::open(directory.path()).unwrap();
        let first: Vec<i64> = (0..1500).map(|_| ids.allocate().unwrap()).collect();
        assert_eq!(first, (0..1500).collect::<Vec<_>>());
        drop(ids);
        let reopened = ProducerIds::open(directory.path()).unwrap();
        let next = reopened.allocate().unwrap();
        assert!(next >= 1500, "{next} was handed out before the restart");
    }

    #[test]
    fn corrupt_file_is_reported() {
        let directory = tempfile::tempdir().unwrap();
        std::fs::write(directory.path().join(FILE), b"{").unwrap();
        let error = ProducerIds::open(directory.path()).unwrap_err();
        assert!(error.to_string().contains(FILE), "{error}");
    }
}
