//! The broker's data disk: one storage `Disk`, flushed by a dedicated
//! thread. A single broker opens it with the storage core's journal
//! (`data-plane/storage/JOURNAL.md`): every partition's appends go to one
//! file in `DATA_DIR/journal`, one write and one `fdatasync` per
//! group-commit pass however many partitions wrote, and the segments are
//! synced behind it by a checkpoint thread. A failed pass or checkpoint
//! takes the disk offline for good (there is no safe retry after a failed
//! `fdatasync`): durability stops advancing, so acks=all requests time out,
//! and `/readyz` reports not ready.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fjord_storage::{ByteSize, Disk, FlushPolicy, JournalConfig, StdMedium};

use crate::error::{Error, Result};
use crate::topics::Topics;

/// Group-commit pass interval: the added latency of acks=all.
const FLUSH_INTERVAL: Duration = Duration::from_millis(2);
/// Partition maintenance (log checkpoint, retention) interval.
const MAINTENANCE_INTERVAL: Duration = Duration::from_secs(30);
/// How often the checkpoint thread asks the journal whether one is due.
const CHECKPOINT_POLL: Duration = Duration::from_millis(100);
/// Open segment files kept in the storage file cache.
const OPEN_FILES_MAX: usize = 1024;

/// The data disk and its health.
#[derive(Debug)]
pub struct DataDisk {
    disk: Arc<Disk>,
    offline: AtomicBool,
    reason: Mutex<Option<String>>,
}

impl DataDisk {
    /// A disk without a journal: one `fdatasync` per file with pending data
    /// in each pass. For a broker in a cluster, whose partitions live on
    /// the replication node's own journaled disk, and for tests of a
    /// partition alone.
    pub fn new() -> Arc<Self> {
        let policy = FlushPolicy::GroupCommit {
            interval: FLUSH_INTERVAL,
            bytes: ByteSize::mib(4),
        };
        Self::with(Disk::new(Arc::new(StdMedium), policy, OPEN_FILES_MAX))
    }

    /// A single broker's disk: every log under `root` appends through the
    /// journal in `root/journal`. Opening replays what the journal holds
    /// beyond its last checkpoint into the segments, so the topics and the
    /// group log open on complete logs afterwards.
    pub fn open(root: &Path) -> Result<Arc<Self>> {
        let policy = FlushPolicy::Journal(JournalConfig::default());
        let disk =
            Disk::open(Arc::new(StdMedium), root, policy, OPEN_FILES_MAX).map_err(|source| {
                Error::Journal {
                    path: root.join("journal"),
                    source,
                }
            })?;
        let report = disk.journal_report();
        tracing::info!(
            files = report.files,
            records_replayed = report.records_replayed,
            records_skipped = report.records_skipped,
            logs_replayed = report.logs_replayed,
            torn_tail = report.torn_tail,
            "journal opened"
        );
        Ok(Self::with(disk))
    }

    fn with(disk: Arc<Disk>) -> Arc<Self> {
        Arc::new(Self {
            disk,
            offline: AtomicBool::new(false),
            reason: Mutex::new(None),
        })
    }

    pub fn disk(&self) -> &Arc<Disk> {
        &self.disk
    }

    /// Unregisters the log in `directory` from the journal, durably; call
    /// before deleting the directory, so a crash in between never replays
    /// into a log being deleted (storage JOURNAL.md, J7).
    pub fn forget_log(&self, directory: &Path) -> fjord_storage::Result<()> {
        self.disk.forget_log(directory)
    }

    /// `Err(reason)` once the disk is offline.
    pub fn health(&self) -> Result<(), String> {
        if !self.offline.load(Ordering::Acquire) {
            return Ok(());
        }
        let reason = self
            .reason
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        Err(reason.unwrap_or_else(|| "disk offline".to_owned()))
    }

    /// Takes the disk offline after a failure the storage cannot recover
    /// from in place (a failed write or sync): every later append and read
    /// fails with KAFKA_STORAGE_ERROR.
    pub fn take_offline(&self, reason: String) {
        tracing::error!(%reason, "data disk failed, taking it offline");
        *self.reason.lock().unwrap_or_else(|e| e.into_inner()) = Some(reason);
        self.offline.store(true, Ordering::Release);
    }

    /// Starts the flusher and maintenance threads; they run for the life of
    /// the process (the OS reclaims them at exit).
    pub fn start(self: &Arc<Self>, topics: Arc<Topics>) -> std::io::Result<()> {
        let this = Arc::clone(self);
        std::thread::Builder::new()
            .name("fjord-flusher".into())
            .spawn(move || {
                // Bounded by the process: stops only when the disk fails.
                loop {
                    std::thread::sleep(FLUSH_INTERVAL);
                    if let Err(error) = this.disk.flush_pending() {
                        this.take_offline(format!("group commit failed: {error}"));
                        return;
                    }
                }
            })?;
        let this = Arc::clone(self);
        std::thread::Builder::new()
            .name("fjord-checkpoint".into())
            .spawn(move || {
                // Bounded by the process: stops only when the disk fails.
                // Apart from the flusher, so syncing the segments never
                // holds up a group-commit pass.
                loop {
                    std::thread::sleep(CHECKPOINT_POLL);
                    if this.health().is_err() {
                        return;
                    }
                    if !this.disk.checkpoint_is_due() {
                        continue;
                    }
                    if let Err(error) = this.disk.checkpoint() {
                        this.take_offline(format!("journal checkpoint failed: {error}"));
                        return;
                    }
                }
            })?;
        let this = Arc::clone(self);
        std::thread::Builder::new()
            .name("fjord-maintenance".into())
            .spawn(move || {
                // Bounded by the process.
                loop {
                    std::thread::sleep(MAINTENANCE_INTERVAL);
                    if this.health().is_err() {
                        return;
                    }
                    for partition in topics.all_partitions() {
                        if let Err(error) = partition.maintain() {
                            tracing::warn!(%error, "partition maintenance failed");
                        }
                    }
                }
            })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::partition::{LocalReplica, PartitionReplica, ReplicaError};

    #[test]
    fn an_offline_disk_is_unhealthy_and_refuses_appends_and_reads() {
        let directory = tempfile::tempdir().unwrap();
        let disk = DataDisk::new();
        let replica = LocalReplica::open(&disk, directory.path()).unwrap();
        let mut batch = fjord_storage::batch::build_batch(1, fjord_storage::Timestamp(1), 8, 1);
        replica.append(&mut batch).unwrap();
        assert!(disk.health().is_ok());
        disk.take_offline("fdatasync failed: EIO".to_owned());
        assert!(disk.health().unwrap_err().contains("EIO"));
        let mut batch = fjord_storage::batch::build_batch(1, fjord_storage::Timestamp(2), 8, 1);
        assert!(matches!(
            replica.append(&mut batch),
            Err(ReplicaError::DiskOffline(_))
        ));
        let mut out = Vec::new();
        let refused = replica.read(fjord_storage::Offset(0), 1024, &mut out);
        assert!(matches!(refused, Err(ReplicaError::DiskOffline(_))));
    }
}
